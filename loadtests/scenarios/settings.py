"""Load-test settings (``LOAD_TEST_*`` environment variables) and the identities the simulated users act as.

Nothing here imports Locust, so the unit tests can use it without gevent's monkey-patching.

Identities come from the file ``watchlist-dev seed`` writes (one ``{"userId": ..., "token": ...}`` a
line). Without that file, tokens are minted for random user ids with the development HMAC secret, so a load
test also runs against ``make run`` with no preparation.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from watchlist_service.config import Settings
from watchlist_service.security import mint_token as service_mint_token

DEFAULT_USERS_FILE = Path(".devdata/loadtest-users.jsonl")
DEFAULT_REPORTS_DIR = Path("loadtests/reports")
# Where the Locust process writes the ramp-up's totals before it resets its statistics (see rampup.py).
RAMP_FILE_ENV = "LOAD_TEST_RAMP_FILE"
# The issuer and audience the service expects by default (WATCHLIST_JWT_ISSUER / WATCHLIST_JWT_AUDIENCE).
DEV_ISSUER = "watchlist-dev"
DEV_AUDIENCE = "watchlist"
SCOPE_READ_ANY = "watchlist:read:any"
SERVICE_SUBJECT = "loadtest-internal-service"
# Long enough for any run; the service still checks exp, iat and nbf as usual.
MINTED_TOKEN_TTL_S = 12 * 3600


class LoadTestConfigError(RuntimeError):
    """The environment does not say how to authenticate the simulated users."""


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    try:
        return default if raw in (None, "") else float(raw)
    except ValueError as exc:
        raise LoadTestConfigError(f"{name} must be a number, not {raw!r}") from exc


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    try:
        return default if raw in (None, "") else int(raw)
    except ValueError as exc:
        raise LoadTestConfigError(f"{name} must be an integer, not {raw!r}") from exc


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise LoadTestConfigError(f"{name} must be true or false, not {raw!r}")


_TIMESPAN_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


def parse_seconds(timespan: str) -> int:
    """Locust's ``--run-time`` format (``90``, ``90s``, ``2m``, ``1h30m``) in seconds."""
    match = _TIMESPAN_RE.match(timespan.strip())
    if not timespan.strip() or match is None:
        raise LoadTestConfigError(f"LOAD_TEST_DURATION must look like 90s, 2m or 1h30m, not {timespan!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _dev_secret(environ: Mapping[str, str], dotenv_file: Path) -> str | None:
    """The HMAC secret to mint with: explicit, else the one ``make run`` generated for the service."""
    explicit = environ.get("LOAD_TEST_JWT_SECRET") or environ.get("WATCHLIST_JWT_SECRET")
    if explicit:
        return explicit
    if dotenv_file.is_file():
        return dotenv_values(dotenv_file).get("WATCHLIST_JWT_SECRET") or None
    return None


@dataclass(frozen=True, slots=True)
class LoadTestSettings:
    """Everything a load test run can be told."""

    host: str = "http://127.0.0.1:8000"
    users_file: Path = DEFAULT_USERS_FILE
    service_token: str | None = None
    jwt_secret: str | None = None
    jwt_issuer: str = DEV_ISSUER
    jwt_audience: str = DEV_AUDIENCE
    # Minted identities are drawn from this many user ids, so simulated users share some lists, as devices do.
    random_user_count: int = 10_000
    think_min_s: float = 0.1
    think_max_s: float = 0.5
    # For loadtests.run (the headless run behind `make loadtest`).
    duration: str = "60s"  # measured, after the ramp-up when reset_stats
    reset_stats: bool = True
    users: int = 100
    spawn_rate: float = 20.0
    processes: int = 1
    reports_dir: Path = DEFAULT_REPORTS_DIR
    max_failure_ratio: float = 0.001

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, dotenv_file: Path = Path(".env")
    ) -> LoadTestSettings:
        """Read ``LOAD_TEST_*`` variables (``os.environ`` unless given), with the defaults above."""
        env = os.environ if environ is None else environ
        defaults = cls()
        settings = cls(
            host=env.get("LOAD_TEST_HOST", defaults.host).rstrip("/"),
            users_file=Path(env.get("LOAD_TEST_USERS_FILE", str(defaults.users_file))),
            service_token=env.get("LOAD_TEST_SERVICE_TOKEN") or None,
            jwt_secret=_dev_secret(env, dotenv_file),
            jwt_issuer=env.get("LOAD_TEST_JWT_ISSUER", defaults.jwt_issuer),
            jwt_audience=env.get("LOAD_TEST_JWT_AUDIENCE", defaults.jwt_audience),
            random_user_count=_int(env, "LOAD_TEST_RANDOM_USERS", defaults.random_user_count),
            think_min_s=_float(env, "LOAD_TEST_THINK_MIN_S", defaults.think_min_s),
            think_max_s=_float(env, "LOAD_TEST_THINK_MAX_S", defaults.think_max_s),
            duration=env.get("LOAD_TEST_DURATION", defaults.duration),
            reset_stats=_bool(env, "LOAD_TEST_RESET_STATS", defaults.reset_stats),
            users=_int(env, "LOAD_TEST_USERS", defaults.users),
            spawn_rate=_float(env, "LOAD_TEST_SPAWN_RATE", defaults.spawn_rate),
            processes=_int(env, "LOAD_TEST_PROCESSES", defaults.processes),
            reports_dir=Path(env.get("LOAD_TEST_REPORTS_DIR", str(defaults.reports_dir))),
            max_failure_ratio=_float(env, "LOAD_TEST_MAX_FAILURE_RATIO", defaults.max_failure_ratio),
        )
        parse_seconds(settings.duration)  # fails early on a typo
        if not 0 <= settings.think_min_s <= settings.think_max_s:
            raise LoadTestConfigError("need 0 <= LOAD_TEST_THINK_MIN_S <= LOAD_TEST_THINK_MAX_S")
        if settings.random_user_count < 1 or settings.users < 1 or settings.spawn_rate <= 0:
            raise LoadTestConfigError(
                "LOAD_TEST_RANDOM_USERS, LOAD_TEST_USERS and LOAD_TEST_SPAWN_RATE must be > 0"
            )
        return settings


def mint_token(
    secret: str,
    sub: str,
    *,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    scopes: tuple[str, ...] = (),
    ttl_s: int = MINTED_TOKEN_TTL_S,
) -> str:
    """An HS256 token the development service accepts (signed by the service's own ``mint_token``)."""
    settings = Settings(_env_file=None, jwt_secret=secret, jwt_issuer=issuer, jwt_audience=audience)
    return service_mint_token(settings, sub, scopes=list(scopes), ttl_s=ttl_s)


@dataclass(frozen=True, slots=True)
class Identity:
    """A user id and a bearer token for it (``None`` until minted)."""

    user_id: str
    token: str | None = None


def read_users_file(path: Path) -> list[Identity]:
    """Parse the seed command's JSON lines; a malformed line is an error that names its line number."""
    identities: list[Identity] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                user_id = record["userId"]
                token = record.get("token")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise LoadTestConfigError(
                    f"{path}:{number}: expected {{'userId': ..., 'token': ...}}"
                ) from exc
            if not isinstance(user_id, str) or not (token is None or isinstance(token, str)):
                raise LoadTestConfigError(f"{path}:{number}: userId and token must be strings")
            identities.append(Identity(user_id=user_id, token=token))
    if not identities:
        raise LoadTestConfigError(f"{path} holds no users")
    return identities


class IdentityPool:
    """Hands out identities to simulated users: seeded ones when the file exists, minted ones otherwise."""

    def __init__(self, settings: LoadTestSettings, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self._seeded: list[Identity] | None = None
        self._loaded = False
        self._service_token: str | None = settings.service_token

    def _seeded_identities(self) -> list[Identity] | None:
        # Loaded on first use, so importing the scenarios never touches the file system.
        if not self._loaded:
            path = self._settings.users_file
            self._seeded = read_users_file(path) if path.is_file() else None
            self._loaded = True
        return self._seeded

    def _mint(self, sub: str, scopes: tuple[str, ...] = ()) -> str:
        secret = self._settings.jwt_secret
        if secret is None:
            raise LoadTestConfigError(
                f"no token for {sub!r}: seed users ({self._settings.users_file}) with tokens, or set "
                "LOAD_TEST_JWT_SECRET to the service's HMAC secret"
            )
        return mint_token(
            secret, sub, issuer=self._settings.jwt_issuer, audience=self._settings.jwt_audience, scopes=scopes
        )

    def user_id(self) -> str:
        """Any user id (for a service reading other users' lists)."""
        seeded = self._seeded_identities()
        if seeded is not None:
            return self._rng.choice(seeded).user_id
        return f"loadtest-{self._rng.randrange(self._settings.random_user_count)}"

    def identity(self) -> Identity:
        """A user and a token that acts for it."""
        seeded = self._seeded_identities()
        if seeded is not None:
            picked = self._rng.choice(seeded)
            return picked if picked.token else Identity(picked.user_id, self._mint(picked.user_id))
        user_id = self.user_id()
        return Identity(user_id=user_id, token=self._mint(user_id))

    def service_token(self) -> str:
        """A token with ``watchlist:read:any``: LOAD_TEST_SERVICE_TOKEN, else one minted once."""
        if self._service_token is None:
            self._service_token = self._mint(SERVICE_SUBJECT, (SCOPE_READ_ANY,))
        return self._service_token

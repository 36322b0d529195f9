"""The project's ``.env``: development settings generated once and kept, so every command agrees on them.

``watchlist-dev run`` (``make run``) and ``watchlist-dev cluster`` write it; ``watchlist-service serve`` and
``watchlist-service token`` started in the same folder read it (pydantic-settings), so they sign and verify
with the same JWT secret and reach the same fake TMDb without any variable set by hand.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, set_key

from watchlist_dev.processes import free_port, port_is_free

ENV_FILE = Path(".env")
DEV_USER = "demo"
# Stable ports make a second terminal's commands easy to repeat; any free one is taken when they are in use.
DEV_MONGO_PORT = 27018
DEV_REDIS_PORT = 6380
DEV_TMDB_PORT = 8765
# Any of them means TMDb is configured: a real token means the real TMDb, so no fake is written then.
TMDB_VARIABLES = ("WATCHLIST_TMDB_BASE_URL", "WATCHLIST_TMDB_TOKEN", "WATCHLIST_TMDB_API_KEY")


def preferred_port(port: int) -> int:
    """``port`` if nothing listens on it, else any free port."""
    return port if port_is_free(port) else free_port()


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """The ``NAME=value`` pairs of ``path`` (none when it does not exist)."""
    if not path.exists():
        return {}
    return {name: value for name, value in dotenv_values(path).items() if value is not None}


def ensure_dev_env(path: Path = ENV_FILE) -> None:
    """Write what is neither in ``path`` nor in the environment: a JWT secret, and the fake TMDb's URL and
    both its credentials, a v4 bearer token and a v3 API key (when no TMDb is configured at all). Values
    already there are never changed."""
    existing = read_env_file(path)

    def configured(name: str) -> bool:
        return bool(existing.get(name)) or name in os.environ

    missing: dict[str, str] = {}
    if not configured("WATCHLIST_JWT_SECRET"):
        missing["WATCHLIST_JWT_SECRET"] = secrets.token_urlsafe(48)
    if not any(configured(name) for name in TMDB_VARIABLES):
        missing["WATCHLIST_TMDB_BASE_URL"] = f"http://127.0.0.1:{preferred_port(DEV_TMDB_PORT)}"
        missing["WATCHLIST_TMDB_TOKEN"] = secrets.token_urlsafe(32)
        # The service signs in with the token; the key is there so the fake accepts either, as TMDb does.
        missing["WATCHLIST_TMDB_API_KEY"] = secrets.token_hex(16)
    if not missing:
        return
    path.touch(mode=0o600, exist_ok=True)
    for name, value in missing.items():
        set_key(str(path), name, value, quote_mode="never")


def loopback_port(url: str | None) -> int | None:
    """The port of an ``http://127.0.0.1:PORT`` (or localhost) URL; ``None`` for anything else."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        return parts.port
    except ValueError:
        return None

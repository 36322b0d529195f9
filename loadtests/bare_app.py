"""The yardstick of ``make bench``: one Litestar route with no middleware, no dependencies and no lifespan,
served by the same server with the same options as ``watchlist-service serve``."""

from __future__ import annotations

import secrets
import sys

import uvicorn
from litestar import Litestar, get

from watchlist_service.cli import uvicorn_kwargs
from watchlist_service.config import Settings


@get("/bare", media_type="text/plain", sync_to_thread=False)
def bare() -> bytes:
    """What the framework and the server cost for a request that does nothing."""
    return b"hello"


app = Litestar(route_handlers=[bare], openapi_config=None)


def main() -> None:
    """``python -m loadtests.bare_app PORT``: serve it the way ``watchlist-service serve`` serves ours."""
    # The defaults, with a throwaway secret (nothing is signed here).
    settings = Settings(_env_file=None, jwt_secret=secrets.token_urlsafe(32))
    options = {**uvicorn_kwargs(settings), "lifespan": "off"}
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), **options)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

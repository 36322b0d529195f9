"""What the mobile mix sends, shared by the Locust user (mobile.py) and the wrk replay (loadtests/wrk_mix.py).

Nothing here imports Locust, so the wrk replay runs without gevent's monkey-patching.
"""

from __future__ import annotations

PAGE_LIMIT = 10
CONTAINS_BATCH = 20
CATALOG_PAGE = 20
# Titles known to exist in TMDb and in the dev stack's catalog: what users add before they have browsed.
SEED_CONTENT = (
    *(
        f"movie:{n}"
        for n in (550, 680, 13, 155, 278, 238, 27205, 603, 120, 157336, 24428, 19995, 597, 11, 862)
    ),
    *(f"tv:{n}" for n in (1396, 1399, 66732, 1402, 60625, 1418, 94605)),
)

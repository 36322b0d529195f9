"""The application factory: wiring only."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar, MediaType, get
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from litestar.router import Router
from litestar.static_files import create_static_files_router

from watchlist_service import __version__
from watchlist_service.catalog.controller import CatalogController
from watchlist_service.compression import LazyCompression
from watchlist_service.config import Settings
from watchlist_service.edge import Edge, guard
from watchlist_service.errors import EXCEPTION_HANDLERS
from watchlist_service.health import live, ready
from watchlist_service.logging import configure_logging
from watchlist_service.openapi import document
from watchlist_service.portability.controller import (
    ErasableUserWatchlistController,
    MyPortabilityController,
    UserPortabilityController,
)
from watchlist_service.realtime.controller import RealtimeController
from watchlist_service.recommendations.controller import RecommendationsController
from watchlist_service.resources import Root
from watchlist_service.routes import READ
from watchlist_service.watchlist.controller import (
    MyWatchlistController,
    TitleWatchersController,
)

if TYPE_CHECKING:
    from litestar.types import Middleware
    from opentelemetry.sdk.trace.export import SpanExporter


@get(
    "/v1/hello",
    operation_id="hello",
    summary="Say hello (benchmark yardstick)",
    tags=["Operations"],
    media_type=MediaType.TEXT,
    sync_to_thread=False,
    opt=READ,
)
def hello() -> str:
    """The cheapest authenticated route: the framework's ceiling for benchmarks."""
    return "hello"


# Swagger UI's dist files, from the swagger-ui-py wheel, served next to the API description (public, as all of
# /schema is: security.PUBLIC_PATHS), so the docs page loads nothing from a CDN.
SWAGGER_ASSETS = "/schema/assets"


def _swagger_ui() -> tuple[SwaggerRenderPlugin, Router]:
    """The Swagger UI page on our own copy of its files, and the route that serves them."""
    spec = importlib.util.find_spec("swagger_ui")  # located, not imported: its Flask/Tornado glue is unused
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package (a dependency) is not installed")
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    plugin = SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
    )
    assets = create_static_files_router(
        path=SWAGGER_ASSETS,
        directories=[static],
        name="swagger-assets",
        cache_control=CacheControlHeader(public=True, max_age=86_400),
    )
    return plugin, assets


class MetricsController(PrometheusController):
    """Prometheus exposition (text, for the scraper): not part of the API description."""

    include_in_schema = False


def create_app(settings: Settings | None = None, *, span_exporter: SpanExporter | None = None) -> Litestar:
    """Build the application for ``settings`` (read from the environment when omitted); ``span_exporter``
    replaces the OTLP exporter when tracing is on (tests)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    root = Root(settings, span_exporter=span_exporter)
    # Tracing, when on: the span is named after the route once the router found it (docs/design.md §13).
    traced: list[Middleware] = [root.tracing.route_middleware] if root.tracing is not None else []
    swagger, swagger_assets = _swagger_ui()
    compression = CompressionConfig(
        backend="brotli",
        brotli_gzip_fallback=True,
        minimum_size=settings.compression_min_bytes,
        brotli_quality=settings.compression_brotli_quality,
        gzip_compress_level=settings.compression_gzip_level,
        middleware_class=LazyCompression,  # no compressor for a body too small to compress
    )
    app = Litestar(
        route_handlers=[
            MyWatchlistController,
            ErasableUserWatchlistController,  # UserWatchlistController and erase (docs/design.md §11)
            MyPortabilityController,
            UserPortabilityController,
            TitleWatchersController,
            RecommendationsController,
            CatalogController,
            RealtimeController,
            live,
            ready,
            hello,
            MetricsController,
            swagger_assets,
        ],
        lifespan=[root.lifespan],
        # What handlers are given, from the running app's resources (resources.py).
        dependencies={
            "resources": Provide(lambda: root.resources, sync_to_thread=False),
            "watchlist": Provide(lambda: root.resources.watchlist, sync_to_thread=False),
            "catalog": Provide(lambda: root.resources.catalog, sync_to_thread=False),
            "hub": Provide(lambda: root.resources.realtime, sync_to_thread=False),
            "exporter": Provide(lambda: root.resources.exporter, sync_to_thread=False),
            "imports": Provide(lambda: root.resources.imports, sync_to_thread=False),
            "eraser": Provide(lambda: root.resources.eraser, sync_to_thread=False),
            "recommendations": Provide(lambda: root.resources.recommendations, sync_to_thread=False),
        },
        # After routing: requests in progress, the failed-authentication limit per IP, authentication, the
        # limit per user, idempotency keys (scoped to the caller, on routes that declare them): edge.Guard.
        middleware=[*traced, guard(root, compression)],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=settings.cors_origins) if settings.cors_origins else None,
        compression_config=compression,
        openapi_config=OpenAPIConfig(
            title="watchlist-service",
            version=__version__,
            description="My List: one list per user, cached pages, and a TMDb catalog proxy.",
            path="/schema",
            render_plugins=[swagger],
            # The handlers' one-line docstrings describe the operations that set no description.
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        logging_config=None,
    )
    # Outermost, around Litestar's own exception handling: so the request id, the access log and the request
    # metrics also cover answers made outside any route (unknown paths, authentication failures, CORS
    # preflights) and by its exception handlers.
    app.asgi_handler = Edge(app.asgi_handler, access_log=settings.access_log)
    if root.tracing is not None:
        # Outside that: the request's span (the caller's traceparent continued) covers its access-log line.
        app.asgi_handler = root.tracing.asgi(app.asgi_handler)
    document(app)
    root.attach(app)
    return app


def app_factory() -> Litestar:
    """Zero-argument factory for ASGI servers (``uvicorn --factory``)."""
    return create_app()

"""Traces (OpenTelemetry), on only when ``WATCHLIST_OTEL_ENDPOINT`` is set.

Off, nothing of OpenTelemetry is imported, no middleware is added and no client is instrumented: the hot path
is the same code as without tracing. On, ``Root`` (resources.py) owns one ``Tracing``: its tracer provider is
started with the app's lifespan and shut down (spans flushed) when it ends. Every instrumentation is bound to
that provider and to our own clients (the MongoDB client's command listener, the one Redis client, the TMDb
and JWKS HTTP clients), never patched into the libraries globally, so two apps in one process (tests) do not
see each other's spans.

A request's server span continues the caller's W3C ``traceparent`` (the gateway's trace id); the TMDb client
sends the current one on (httpx instrumentation). The JSON log lines carry ``trace_id`` and ``span_id``
while a span is active (logging.py). A Redis batch shared by several requests (the auto-pipeliner) is traced
in the trace of the request that opened it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from watchlist_service import __version__
from watchlist_service.config import Settings
from watchlist_service.logging import set_trace_ids

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from pymongo import monitoring

    from watchlist_service.infra.redis import RedisClient

# Probes and the scraper are not traced: they would be most of the spans and say nothing.
UNTRACED_PATHS = ["^/metrics", "^/v1/health/"]


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector given by its base URL (``http://collector:4318``)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class Tracing:
    """One app's tracer provider and the instrumentation bound to it (built only when tracing is on)."""

    def __init__(self, settings: Settings, *, exporter: SpanExporter | None = None) -> None:
        """``exporter`` replaces the OTLP/HTTP exporter to ``settings.otel_endpoint`` (tests: in memory)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        self._settings = settings
        self._exporter = exporter
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create(
                {"service.name": settings.otel_service_name, "service.version": __version__}
            ),
            # A caller's decision (the traceparent's sampled flag) is followed; new traces by the ratio.
            sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
        )

    def start(self) -> None:
        """Export from now on (in a background thread, in batches) and put the ids in the log lines."""
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = self._exporter
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            assert self._settings.otel_endpoint is not None
            exporter = OTLPSpanExporter(endpoint=traces_url(self._settings.otel_endpoint), timeout=5)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        set_trace_ids(_current_ids)

    def shutdown(self) -> None:
        """Flush what is left and stop exporting (the app's shutdown)."""
        set_trace_ids(None)
        self.provider.shutdown()

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """``app`` inside a server span per HTTP request (Litestar's OpenTelemetry middleware), continuing
        the caller's ``traceparent``."""
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryInstrumentationMiddleware

        config = OpenTelemetryConfig(
            tracer_provider=self.provider,
            scope_span_details_extractor=_span_details,
            exclude=UNTRACED_PATHS,
            # A span for each ASGI message would double the spans and the cost, and tell nothing more.
            exclude_spans=["receive", "send"],
            scopes={ScopeType.HTTP},
        )
        return OpenTelemetryInstrumentationMiddleware(app, config)

    def route_middleware(self, app: ASGIApp) -> ASGIApp:
        """Inside the router: names the request's span after its route template (``GET /v1/movies/{id}``),
        which the outer middleware does not know yet."""
        from opentelemetry import trace

        async def name_span(scope: Scope, receive: Receive, send: Send) -> None:
            template = scope.get("path_template")
            span = trace.get_current_span()
            if template and span.is_recording():
                method = scope.get("method", "")
                span.update_name(f"{method} {template}".strip())
                span.set_attribute("http.route", template)
            await app(scope, receive, send)

        return name_span

    def mongo_listeners(self) -> Sequence[monitoring.CommandListener]:
        """Command listeners for our MongoDB client: one client span per command."""
        from opentelemetry.instrumentation.pymongo import CommandTracer
        from opentelemetry.trace import get_tracer

        return [
            CommandTracer(get_tracer("opentelemetry.instrumentation.pymongo", tracer_provider=self.provider))
        ]

    def instrument_redis(self, client: RedisClient) -> None:
        """A client span per command and per pipeline sent by ``client``."""
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def instrument_http(self, client: httpx.AsyncClient) -> None:
        """A client span per request sent by ``client``, which carries the ``traceparent`` on."""
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # Before routing only the method is known; route_middleware renames the span after the route template.
    return str(scope.get("method", "HTTP")), {}


def open_tracing(settings: Settings, *, exporter: SpanExporter | None = None) -> Tracing | None:
    """The app's tracing when ``WATCHLIST_OTEL_ENDPOINT`` is set, else ``None`` (nothing imported)."""
    if settings.otel_endpoint is None:
        return None
    return Tracing(settings, exporter=exporter)

"""Traces: one trace per request, continued from the gateway's traceparent and carried to TMDb (docs/design.md
§13), with the trace and span ids in the log lines; nothing at all when tracing is off."""

from __future__ import annotations

import gzip
import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from tests.conftest import Backends, User, make_settings, serve_in_process, start_server
from tests.integration.catalog_support import FAST_TMDB, TMDB_TOKEN, FakeTmdb
from watchlist_service.app import create_app
from watchlist_service.config import Settings
from watchlist_service.edge import Edge
from watchlist_service.resources import resources_of
from watchlist_service.security import mint_token
from watchlist_service.tracing import traces_url

pytest_plugins = ["tests.integration.catalog_fixtures"]

# Never contacted: the in-memory exporter replaces the OTLP one; the setting turns tracing on.
UNUSED_COLLECTOR = "http://127.0.0.1:9"


def scope_of(span: ReadableSpan) -> str:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else ""


def in_trace(spans: Sequence[ReadableSpan], trace_id: str) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and format(s.context.trace_id, "032x") == trace_id]


async def test_one_trace_spans_the_request_mongodb_redis_and_tmdb(
    backends: Backends,
    fake_tmdb: FakeTmdb,
    tmdb_redis: Redis,
    user: User,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """docs/design.md §13: the gateway's trace id is kept; MongoDB, Redis and TMDb calls are its children; the
    TMDb request carries the trace on; log lines carry trace_id and span_id."""
    exporter = InMemorySpanExporter()
    settings = make_settings(
        backends,
        otel_endpoint=UNUSED_COLLECTOR,
        tmdb_base_url=fake_tmdb.url,
        tmdb_token=TMDB_TOKEN,
        access_log=True,
        log_level="INFO",
        **FAST_TMDB,
    )
    trace_id, gateway_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {**user.headers, "traceparent": f"00-{trace_id}-{gateway_span}-01"}
    app = create_app(settings, span_exporter=exporter)
    async with serve_in_process(app) as client:
        assert getattr(resources_of(app).redis, "_is_instrumented_by_opentelemetry", False)
        capfd.readouterr()
        # movie:550 is in no cache (tmdb_redis emptied them): the add looks it up on TMDb.
        added = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=headers)
        assert added.status_code == 201, added.text
        assert added.json()["title"] == "Fight Club"
        logged = capfd.readouterr().err
        page = await client.get("/v1/watchlist", headers=user.headers)  # still serving, untraced parent
        assert page.status_code == 200
    spans = exporter.get_finished_spans()  # the provider was shut down with the app: all flushed
    trace = in_trace(spans, trace_id)

    (server,) = [s for s in trace if s.kind == SpanKind.SERVER]
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == gateway_span  # a child of the gateway's span
    assert server.name == "POST /v1/watchlist"
    assert server.attributes is not None
    assert server.attributes.get("http.route") == "/v1/watchlist"

    def below_server(span: ReadableSpan) -> bool:
        by_id = {s.context.span_id: s for s in trace if s.context is not None}
        while span.parent is not None:
            if server.context is not None and span.parent.span_id == server.context.span_id:
                return True
            parent = by_id.get(span.parent.span_id)
            if parent is None:
                return False
            span = parent
        return False

    mongo = [s for s in trace if scope_of(s) == "opentelemetry.instrumentation.pymongo"]
    redis = [s for s in trace if scope_of(s) == "opentelemetry.instrumentation.redis"]
    tmdb = [s for s in trace if scope_of(s) == "opentelemetry.instrumentation.httpx"]
    assert [s.name for s in mongo] == ["watchlist_test.findAndModify"]  # the one atomic update of the add
    assert redis, [s.name for s in trace]
    assert tmdb, [s.name for s in trace]  # one call, or more when a slow attempt was retried
    assert all(s.kind == SpanKind.CLIENT and below_server(s) for s in [*mongo, *redis, *tmdb])

    # The TMDb request carried the trace on: the httpx span is the parent TMDb saw.
    seen_by_tmdb = set(fake_tmdb.counters()["traceparents"])
    sent = {f"00-{trace_id}-{format(s.context.span_id, '016x')}-01" for s in tmdb if s.context is not None}
    assert sent <= seen_by_tmdb, (sent, seen_by_tmdb)

    # The access-log line of the request names its trace and its server span.
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    (access,) = [line for line in lines if line.get("msg") == "POST /v1/watchlist 201"]
    assert server.context is not None
    assert access["trace_id"] == trace_id
    assert access["span_id"] == format(server.context.span_id, "016x")

    # The GET without a traceparent started a trace of its own.
    (get,) = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "GET /v1/watchlist"]
    assert get.context is not None
    assert format(get.context.trace_id, "032x") != trace_id
    assert get.parent is None


async def test_probes_and_metrics_are_not_traced(backends: Backends, user: User) -> None:
    """docs/design.md §13: health probes and the scraper make no spans."""
    exporter = InMemorySpanExporter()
    app = create_app(make_settings(backends, otel_endpoint=UNUSED_COLLECTOR), span_exporter=exporter)
    async with serve_in_process(app) as client:
        for path in ("/v1/health/live", "/v1/health/ready", "/metrics"):
            assert (await client.get(path)).status_code == 200
        assert (await client.get("/v1/hello", headers=user.headers)).status_code == 200
    names = [s.name for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert names == ["GET /v1/hello"]


# What only tracing.py imports. (OpenTelemetry's API itself is imported whenever it is installed: by Litestar,
# which looks for its plugin, and by redis-py; neither does anything with it unless told to.)
TRACING_ONLY_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation.pymongo",
    "opentelemetry.instrumentation.redis",
    "opentelemetry.instrumentation.httpx",
)


def test_without_an_endpoint_no_tracing_module_is_loaded(backends: Backends) -> None:
    """docs/design.md §13: tracing off loads no tracer provider, exporter or instrumentation."""
    program = (
        "import asyncio, sys\n"
        "from watchlist_service.app import create_app\n"
        "from watchlist_service.config import Settings\n"
        f"settings = Settings(_env_file=None, jwt_secret='s' * 40, mongodb_uri={backends.mongodb_uri!r},\n"
        f"    redis_url={backends.redis_url!r}, tmdb_base_url='http://127.0.0.1:9', tmdb_token='t')\n"
        "app = create_app(settings)\n"
        "async def main():\n"
        "    async with app.lifespan():\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith(" + repr(TRACING_ONLY_MODULES) + ")))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


async def test_without_an_endpoint_nothing_is_instrumented(backends: Backends, user: User) -> None:
    """docs/design.md §13: tracing off adds no middleware and instruments no client: the hot path is the
    same code as before tracing existed."""
    app = create_app(make_settings(backends))
    assert isinstance(app.asgi_handler, Edge)  # outermost: no tracing middleware
    async with serve_in_process(app) as client:
        resources = resources_of(app)
        assert not getattr(resources.redis, "_is_instrumented_by_opentelemetry", False)
        listeners = resources.mongo.options.event_listeners
        assert [type(listener).__name__ for listener in listeners] == ["MongoCommandMetrics"]
        assert (await client.get("/v1/hello", headers=user.headers)).status_code == 200


def test_the_collector_url_gets_the_traces_path_once() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("https://otel.example/v1/traces") == "https://otel.example/v1/traces"


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver on loopback: keeps every decoded export request sent to /v1/traces."""

    def __init__(self) -> None:
        self.received: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _CollectorHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.paths.append(self.path)
        self.server.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # http.server's signature
        """Quiet."""


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_server_exports_its_spans_over_otlp_and_flushes_them_on_shutdown(
    settings: Settings, collector: Collector, tmp_path: Path
) -> None:
    """docs/design.md §13: with WATCHLIST_OTEL_ENDPOINT, `watchlist-service serve` sends its spans to the
    collector's /v1/traces (OTLP/HTTP, protobuf) under its service name; SIGTERM flushes what is left."""
    server = start_server(
        settings,
        tmp_path,
        WATCHLIST_OTEL_ENDPOINT=collector.url,
        WATCHLIST_OTEL_SERVICE_NAME="watchlist-otlp-test",
    )
    trace_id = secrets.token_hex(16)
    try:
        token = {"Authorization": f"Bearer {mint_token(settings, f'otlp-{secrets.token_hex(4)}')}"}
        traced = {**token, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
        assert httpx.get(f"{server.url}/v1/watchlist", headers=traced, timeout=10).status_code == 200
    finally:
        server.stop()  # SIGTERM: spans still waiting in the batch are flushed by the app's shutdown
    assert collector.paths
    assert set(collector.paths) == {"/v1/traces"}
    spans = [
        (resource_spans.resource, span)
        for request in collector.received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    ours = [(resource, span) for resource, span in spans if span.trace_id.hex() == trace_id]
    names = {span.name for _, span in ours}
    assert "GET /v1/watchlist" in names, names
    assert any(name.startswith("watchlist_test.") for name in names), names  # its MongoDB command
    resource = ours[0][0]
    attributes = {a.key: a.value.string_value for a in resource.attributes}
    assert attributes["service.name"] == "watchlist-otlp-test"

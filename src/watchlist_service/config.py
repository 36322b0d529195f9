"""Typed settings, read once from ``WATCHLIST_*`` environment variables (and a local ``.env``).

This module is the only reader of the process environment in the service.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


def _default_algorithms() -> list[JwtAlgorithm]:
    return ["HS256"]


class Settings(BaseSettings):
    """Everything the service can be told; validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHLIST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- storage
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    mongodb_database: str = "watchlist"
    mongodb_timeout_ms: int = Field(
        default=1_500, ge=100, description="server selection and operation timeout"
    )
    mongodb_heartbeat_ms: int = Field(
        default=500,
        ge=500,
        le=60_000,
        description="how often the driver checks the replica set (and how soon it finds a new primary)",
    )
    mongodb_app_name: str = Field(
        default="watchlist-service",
        min_length=1,
        max_length=128,
        description="the appName MongoDB sees (server logs, currentOp, fail points)",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    redis_timeout_ms: int = Field(
        default=500, ge=10, description="socket timeout of a Redis connection (connect, read, write)"
    )
    redis_budget_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="how long all Redis calls of one request may wait together (then it goes on without)",
    )
    redis_max_connections: int = Field(default=64, ge=1, description="per process; callers wait for one")

    # --- the list
    list_cap: int = Field(default=1_000, ge=1, le=10_000)
    list_lookup_timeout_s: float = Field(
        default=1.0, gt=0, description="how long an add waits for TMDb before it is accepted as pending"
    )
    metadata_sweep_interval_s: float = Field(default=30.0, gt=0)
    changes_kept: int = Field(
        default=200, ge=1, le=5_000, description="change records kept for the delta feed"
    )

    # --- the page cache
    cache_enabled: bool = True
    cache_page_ttl_s: int = Field(default=300, ge=1)
    cache_change_stream: bool = Field(
        default=True,
        description="tail MongoDB's change stream and invalidate each list change (exactness backstop)",
    )
    breaker_failures: int = Field(default=3, ge=1, description="consecutive failures that open a breaker")
    breaker_reset_s: float = Field(default=5.0, gt=0)

    # --- list change events (docs/design.md §12)
    events_enabled: bool = Field(
        default=True,
        description="relay every list change to the Redis Stream (one replica at a time, by lease)",
    )
    events_stream: str = Field(
        default="watchlist:events", min_length=1, max_length=200, description="the Redis Stream key"
    )
    events_maxlen: int = Field(
        default=100_000, ge=1_000, le=100_000_000, description="entries kept (XADD MAXLEN ~, approximate)"
    )
    events_lease_s: float = Field(
        default=10.0, ge=1, le=300, description="relay lease; a dead holder is replaced within about this"
    )
    events_source: str = Field(
        default="/watchlist-service", min_length=1, description="the CloudEvents `source` of every event"
    )

    # --- recommendations (docs/design.md §12)
    recs_seed_titles: int = Field(
        default=10,
        ge=1,
        le=50,
        description="most recently added titles whose TMDb recommendations are merged",
    )
    recs_ttl_s: int = Field(default=3_600, ge=1, description="an answer cached per list version")
    recs_stale_ttl_s: int = Field(
        default=7 * 86_400, ge=1, description="the last good answer, served (stale) while TMDb is down"
    )

    # --- auth
    jwt_algorithms: list[JwtAlgorithm] = Field(default_factory=_default_algorithms)
    jwt_secret: SecretStr | None = None
    jwt_public_key: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "watchlist-dev"
    jwt_audience: str = "watchlist"
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)
    jwks_cache_ttl_s: int = Field(default=300, ge=1)

    # --- TMDb (the catalog)
    tmdb_base_url: str | None = Field(default=None, description="default https://api.themoviedb.org")
    tmdb_token: SecretStr | None = Field(default=None, description="v4 read access token (Bearer)")
    tmdb_api_key: SecretStr | None = Field(default=None, description="v3 API key, used when no token is set")
    tmdb_connect_timeout_s: float = Field(default=1.0, gt=0, le=30)
    tmdb_read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    tmdb_deadline_s: float = Field(
        default=5.0, gt=0, le=60, description="per call, retries and waits included"
    )
    tmdb_max_retries: int = Field(default=3, ge=0, le=10)
    tmdb_backoff_base_s: float = Field(
        default=0.2, gt=0, le=10, description="first retry delay, then doubled"
    )
    tmdb_backoff_max_s: float = Field(default=2.0, gt=0, le=60)
    tmdb_max_connections: int = Field(default=32, ge=1, le=1_000)
    tmdb_rate_limit_per_s: int = Field(default=35, ge=1, le=10_000, description="for the whole deployment")
    tmdb_rate_margin_ms: int = Field(
        default=250, ge=0, le=1_000, description="added to the 1 s window (jitter)"
    )
    tmdb_fallback_rate_limit_per_s: int = Field(
        default=10, ge=1, le=10_000, description="per process, Redis down"
    )
    tmdb_breaker_failures: int = Field(default=5, ge=1)
    tmdb_breaker_reset_s: float = Field(default=10.0, gt=0)
    tmdb_list_ttl_s: int = Field(default=600, ge=1, description="freshness of lists and searches")
    tmdb_detail_ttl_s: int = Field(default=86_400, ge=1, description="freshness of movie and TV details")
    tmdb_stale_ttl_s: int = Field(
        default=7 * 86_400, ge=0, description="kept past freshness for TMDb outages"
    )
    tmdb_not_found_ttl_s: int = Field(default=60, ge=1, description="how long a TMDb 404 is remembered")
    tmdb_failure_ttl_s: float = Field(
        default=1.0, ge=0, le=60, description="a failed fetch answers 503 this long"
    )
    tmdb_local_cache_s: float = Field(default=2.0, ge=0, le=60, description="in-process copy of hot answers")
    cursor_secret: SecretStr | None = Field(default=None, description="signs catalog cursors")

    # --- inbound rate limits (per user and route class; per IP for failed authentication)
    rate_limit_enabled: bool = True
    rate_limit_reads: str = "1200/minute"
    rate_limit_writes: str = "300/minute"
    rate_limit_catalog: str = "600/minute"
    rate_limit_service: str = Field(
        default="60000/minute", description="per service token (watchlist:*:any scopes), all routes together"
    )
    rate_limit_failed_auth: str = "30/minute"
    trusted_proxies: list[str] = Field(
        default_factory=list, description="CIDRs whose X-Forwarded-For is believed (the ingress, the gateway)"
    )

    # --- HTTP
    max_body_bytes: int = Field(default=64 * 1024, ge=1_024)
    cors_origins: list[str] = Field(default_factory=list)
    compression_min_bytes: int = Field(default=1_024, ge=1)
    # Fast levels: for JSON of a few KiB, brotli 2 is 3.6x cheaper than Litestar's default 5 for 9 % more
    # bytes, gzip 1 2.4x cheaper than 9 for 6 % more (measured on a /v1/movies page; see the README).
    compression_brotli_quality: int = Field(default=2, ge=0, le=11)
    compression_gzip_level: int = Field(default=1, ge=1, le=9)
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    access_log: bool = True
    shutdown_grace_s: int = Field(default=20, ge=0, description="for in-flight requests after the drain")
    shutdown_drain_s: float = Field(
        default=3.0,
        ge=0,
        description="after SIGTERM: readiness 503 while still serving, before shutting down",
    )

    # --- tracing (OpenTelemetry; tracing.py)
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector (http://collector:4318): traces go to its /v1/traces; "
        "unset: no tracing at all",
    )
    otel_sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="share of new traces recorded; a caller's sampled flag wins"
    )
    otel_service_name: str = Field(
        default="watchlist-service", min_length=1, description="service.name of the spans"
    )

    # --- realtime (WebSocket)
    ws_heartbeat_s: float = Field(
        default=25.0, gt=0, le=300, description='interval of the {"event": "ping"} message to every socket'
    )
    ws_queue_size: int = Field(
        default=64,
        ge=2,
        le=10_000,
        description="messages waiting per socket; a slower consumer is disconnected (1008)",
    )
    ws_ticket_ttl_s: int = Field(default=30, ge=1, le=300, description="lifetime of a one-time socket ticket")
    ws_gap_wait_ms: int = Field(
        default=250,
        ge=0,
        le=10_000,
        description="how long an event ahead of a missing version waits before the delta feed fills the gap",
    )
    ws_close_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="how long a close frame may wait behind a full send buffer"
    )

    # --- export, erase and import (docs/design.md §11)
    import_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1_024,
        le=100 * 1024 * 1024,
        description="largest file an import takes (413)",
    )
    import_max_rows: int = Field(
        default=100_000, ge=1, le=1_000_000, description="most rows an imported file may have (422)"
    )
    import_lease_s: float = Field(
        default=30.0,
        ge=1,
        le=600,
        description="a running import's lease; a replica that stops renewing it loses the job to another",
    )
    import_sweep_interval_s: float = Field(
        default=10.0, gt=0, le=600, description="how often each replica looks for queued or abandoned imports"
    )
    import_lookups_per_s: float = Field(
        default=10.0, gt=0, le=1_000, description="catalog lookups per second of one replica's imports"
    )
    import_keep_s: int = Field(
        default=7 * 86_400, ge=60, description="how long an import and its per-row results are kept"
    )

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> Settings:
        uses_hmac = any(a in HMAC_ALGORITHMS for a in self.jwt_algorithms)
        uses_keys = any(a not in HMAC_ALGORITHMS for a in self.jwt_algorithms)
        if uses_hmac and uses_keys:
            # Mixing families is what makes HS/RS key confusion possible; refuse it outright.
            raise ValueError("WATCHLIST_JWT_ALGORITHMS must be all HMAC or all public-key algorithms")
        if uses_hmac and self.jwt_secret is None:
            raise ValueError("WATCHLIST_JWT_SECRET is required for HMAC algorithms")
        if uses_hmac and len(self.jwt_secret.get_secret_value() if self.jwt_secret else "") < 32:
            raise ValueError("WATCHLIST_JWT_SECRET must be at least 32 characters")
        if uses_keys and self.jwt_public_key is None and self.jwt_jwks_url is None:
            raise ValueError("public-key algorithms need WATCHLIST_JWT_PUBLIC_KEY or WATCHLIST_JWT_JWKS_URL")
        return self

    @property
    def can_mint_tokens(self) -> bool:
        """Only a shared HMAC secret lets this process sign tokens (development)."""
        return self.jwt_secret is not None and all(a in HMAC_ALGORITHMS for a in self.jwt_algorithms)

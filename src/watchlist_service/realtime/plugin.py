"""Realtime wiring for one app: the Channels plugin on its own Redis backend, the hub, the event sink."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin

from watchlist_service.breaker import CircuitBreaker
from watchlist_service.config import Settings
from watchlist_service.realtime.fanout import ChannelsEventSink, build_channels
from watchlist_service.realtime.hub import RealtimeHub


class RealtimePlugin(InitPlugin):
    """Build one per ``create_app()``: a Channels Redis backend does not survive an app's restart.

    Puts the hub on ``app.state.realtime`` and the list service's event sink on ``app.state.event_sink``.
    """

    def __init__(self, settings: Settings) -> None:
        self.channels, backend = build_channels(settings)
        self.sink = ChannelsEventSink(
            self.channels,
            CircuitBreaker(
                "redis-realtime",
                failure_threshold=settings.breaker_failures,
                reset_after_s=settings.breaker_reset_s,
            ),
            timeout_s=max(settings.redis_timeout_ms / 1000, 0.05),
        )
        self.hub = RealtimeHub(settings, self.channels, backend)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register Channels, then the hub's lifespan after it (lifespans end in reverse order: sockets are
        closed with 1001 while pub/sub still runs), and the hub's signal relay before every lifespan."""
        app_config = self.channels.on_app_init(app_config)
        app_config.lifespan.append(self.hub.lifespan)
        app_config.lifespan.insert(0, self.hub.signal_relay)
        app_config.state["realtime"] = self.hub
        app_config.state["event_sink"] = self.sink
        return app_config

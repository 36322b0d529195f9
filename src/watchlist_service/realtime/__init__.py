"""Realtime My List: list changes pushed over WebSocket to every device of the user, across replicas."""

from watchlist_service.realtime.controller import RealtimeController
from watchlist_service.realtime.plugin import RealtimePlugin

__all__ = ["RealtimeController", "RealtimePlugin"]

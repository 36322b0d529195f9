"""Realtime My List: list changes pushed over WebSocket to every device of the user, across replicas."""

"""The TMDb catalog: a cached, coalesced, rate-limited proxy for movies and TV shows."""

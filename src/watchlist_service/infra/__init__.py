"""Infrastructure every feature shares: Redis, MongoDB, circuit breakers."""

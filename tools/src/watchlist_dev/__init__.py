"""Local processes for development and tests: mongod, redis-server and a fake TMDb."""

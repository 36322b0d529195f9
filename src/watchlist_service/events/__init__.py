"""List change events: CloudEvents on a Redis Stream, relayed from MongoDB's change stream (design §12)."""

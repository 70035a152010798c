"""The whole bot in memory, and the in-memory messenger it is wired to."""

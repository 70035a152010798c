"""Real servers the tests start (PostgreSQL, Synapse), their fixtures."""

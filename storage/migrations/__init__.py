"""Alembic migrations of the sosbot schema (numbered, one transaction each)."""

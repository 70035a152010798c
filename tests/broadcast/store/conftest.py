"""The storage suite's fixtures: every test here runs on SQLite and on PostgreSQL."""

from tests.storage.conftest import (  # noqa: F401
    backend,
    clock,
    db,
    db_url,
    master_key,
    pg_template,
    sqlite_path,
    sqlite_template,
)

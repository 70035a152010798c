"""Column types shared by the models."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

# On SQLite only "INTEGER PRIMARY KEY" aliases the rowid; BIGINT would not.
Id = BigInteger().with_variant(Integer(), "sqlite")


def new_id() -> int:
    """A random positive 63-bit primary key.

    Ids are generated here, not by the database: encryption binds each
    ciphertext to its record id, so the id must be known before the INSERT;
    random ids also say nothing about how many records exist or their order.
    """
    return secrets.randbelow(2**63 - 2**32) + 2**32


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamp with time zone``. SQLite has no such type:
    values are normalised to UTC and stored naive (ISO text, which sorts in
    time order), and come back with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("storage accepts timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

"""The shapes every migration repeats: key columns, timestamps, named constraints, indexes.

A migration must build the same schema forever, so it never imports the
models (they move on); these helpers are frozen in the same way. Each one
spells out exactly what a migration wrote by hand before (the names follow
the models' naming convention: ``pk_<table>``, ``fk_<table>_<column>_<target>``,
``uq_<table>_<columns>``, ``ix_<table>_<column>``). Never change what an
existing helper builds: add a new one instead, or old databases and new ones
would differ. ``tests/storage/test_migrations.py`` compares the migrated
schema with the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def key(name: str = "id") -> sa.Column[Any]:
    """A primary-key id column; ids are made by the application, never autoincremented."""
    return sa.Column(name, ID, autoincrement=False, nullable=False)


def data_key() -> sa.Column[Any]:
    """The id of the data key that seals a row's encrypted columns (null once shredded)."""
    return sa.Column("data_key_id", ID, nullable=True)


def timestamps() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """``created_at`` and ``updated_at``, both required."""
    return (
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """The primary key of ``table`` on ``columns`` (``id`` when none are named)."""
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def foreign_key(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """``table.column`` references ``target.id``; ``ondelete`` is CASCADE or SET NULL."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def data_key_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    """``table.data_key_id`` references ``data_keys``; shredding a key nulls it, keeps the row."""
    return foreign_key(table, "data_key_id", "data_keys", "SET NULL")


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    """A unique constraint of ``table`` over ``columns``."""
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def create_indexes(table: str, *columns: str) -> None:
    """One plain (non-unique) index per column of ``table``."""
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def drop_table(table: str, *indexed: str) -> None:
    """Drop the indexes made by ``create_indexes(table, *indexed)``, then the table."""
    for column in reversed(indexed):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    op.drop_table(table)

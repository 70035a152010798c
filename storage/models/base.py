"""Declarative base with stable constraint names, and the columns most tables share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import ForeignKey, MetaData
from sqlalchemy.orm import DeclarativeBase, mapped_column

from storage.types import Id, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # A column's type follows its annotation (SQLAlchemy's map: int is Integer,
    # bytes LargeBinary, bool Boolean), so only a column that differs names one.
    # Every timestamp is timezone-aware UTC on every backend: ``Mapped[datetime]``
    # alone says so, and a new column cannot get a naive type by omission.
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


# Whole column declarations as types (SQLAlchemy's Annotated mapping): a model
# says ``id: Mapped[RecordId]``; each use gets its own copy of the column.
RecordId = Annotated[int, mapped_column(Id, primary_key=True, autoincrement=False)]
"""A record's primary key, made by ``new_id`` before the INSERT (never by the database):
the encryption binds every ciphertext to it."""

SealingKeyId = Annotated[
    int | None, mapped_column(Id, ForeignKey("data_keys.id", ondelete="SET NULL"))
]
"""The data key that seals a row's encrypted fields; NULL once the key was destroyed
(the row stays, its sealed fields can no longer be read)."""

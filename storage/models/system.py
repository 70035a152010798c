"""Keys, audit log, deadlines and button tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId


class DataKey(Base):
    """A random data key, stored only wrapped by a master key."""

    __tablename__ = "data_keys"

    id: Mapped[RecordId]
    master_key_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped: Mapped[bytes]
    # Named system keys ("index"); NULL for the data keys of records.
    name: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]


class KeyringState(Base):
    """One row: the id of the master key that wraps new data keys.

    A rotation switches it first, so every process starts wrapping under the
    new key before the old data keys are re-wrapped.
    """

    __tablename__ = "keyring"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    primary_key_id: Mapped[str] = mapped_column(String(16))


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_ref: Mapped[str | None] = mapped_column(String(64))
    detail_enc: Mapped[bytes | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class Deadline(Base):
    __tablename__ = "deadlines"
    __table_args__ = (UniqueConstraint("kind", "object_ref"),)

    id: Mapped[RecordId]
    kind: Mapped[str] = mapped_column(String(32))
    object_ref: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(index=True)
    step: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CallbackToken(Base):
    """An opaque button token: only its hash is stored, the option key is encrypted."""

    __tablename__ = "callback_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_hash: Mapped[str] = mapped_column(String(64))
    key_enc: Mapped[bytes]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]


class BotSecret(Base):
    """A small secret of the bot itself (e.g. the Matrix store's pickle key), sealed."""

    __tablename__ = "bot_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data_key_id: Mapped[SealingKeyId]
    value_enc: Mapped[bytes]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

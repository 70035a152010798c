"""Accounts, conversations and the member registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId
from storage.types import Id


class Account(Base):
    """A platform account that talked to the bot, known by a keyed hash."""

    __tablename__ = "accounts"

    id: Mapped[RecordId]
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address_enc: Mapped[bytes | None]
    data_key_id: Mapped[SealingKeyId]
    language: Mapped[str | None] = mapped_column(String(8))
    language_hint: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Conversation(Base):
    """The encrypted state of an unfinished guided conversation."""

    __tablename__ = "conversations"

    account_id: Mapped[int] = mapped_column(
        Id, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    state: Mapped[str] = mapped_column(String(64))
    data_enc: Mapped[bytes]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[RecordId]
    kind: Mapped[str] = mapped_column(String(16))
    name_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[bytes]
    data_key_id: Mapped[SealingKeyId]
    country: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(64))  # ";"-separated codes
    working_groups: Mapped[str] = mapped_column(String(1000))  # ";"-separated
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MemberGroup(Base):
    """A member chat (Telegram group, Matrix room) that receives appeals."""

    __tablename__ = "member_groups"

    id: Mapped[RecordId]
    organisation_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    chat_hash: Mapped[str] = mapped_column(String(64), unique=True)
    chat_enc: Mapped[bytes]
    data_key_id: Mapped[SealingKeyId]
    language: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool]
    muted: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Contact(Base):
    """A platform account that speaks for an organisation; sealed with the organisation's key."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("organisation_id", "address_hash"),)

    id: Mapped[RecordId]
    organisation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE")
    )
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    address_enc: Mapped[bytes]
    created_at: Mapped[datetime]


class Invite(Base):
    """A one-time code that binds a group to an organisation; only its hash is kept."""

    __tablename__ = "invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]

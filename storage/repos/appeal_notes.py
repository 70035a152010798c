"""What an appeal's audience hears after it was sent: the per-language
outcome texts (sealed with the appeal's key) and the member groups the
appeal reached (recorded in the send transaction, so the outcome reaches
exactly those groups, even if the registry or the targeting changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import IndexKeys
from storage.errors import NotFound
from storage.models import Appeal as AppealRow
from storage.models import AppealNote, AppealRecipient, AppealText
from storage.models import MemberGroup as GroupRow
from storage.records import MemberGroup
from storage.repos.audit import append_entry
from storage.repos.base import Repository, open_text, seal_text
from storage.repos.members import member_group
from storage.types import new_id

OUTCOME = "outcome"
Sealed = TypeVar("Sealed", AppealText, AppealNote)


async def record_recipients(
    session: AsyncSession, index: IndexKeys, appeal_id: int, addresses: Sequence[str]
) -> int:
    """Inside the send transaction: remember which member groups the appeal goes to."""
    hashes = [index.address_hash(a) for a in addresses]
    if not hashes:
        return 0
    rows = await session.execute(select(GroupRow.id).where(GroupRow.chat_hash.in_(hashes)))
    ids = sorted(set(rows.scalars()))
    for group_id in ids:
        session.add(AppealRecipient(appeal_id=appeal_id, group_id=group_id))
    return len(ids)


async def put_text(
    session: AsyncSession,
    model: type[Sealed],
    key: bytes,
    text: str,
    now: datetime,
    **match: int | str,
) -> None:
    """Seal ``text`` into the one row of ``model`` (an appeal's text or note) that
    ``match`` names, made if there is none yet: one per appeal and language (and kind)."""
    row = (await session.execute(select(model).filter_by(**match))).scalar_one_or_none()
    if row is None:
        row = model(id=new_id(), **match)
        session.add(row)
    row.text_enc = seal_text(key, model.__tablename__, "text", row.id, text) or b""
    row.updated_at = now


class AppealNotes(Repository):
    async def set_note(self, ref: str, actor: str, kind: str, language: str, text: str) -> None:
        """Save (or replace) the ``kind`` text of a sent or closed appeal in ``language``."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._appeal(session, ref)
            key = await self._vault.key(session, row.data_key_id)
            await put_text(
                session, AppealNote, key, text, now, appeal_id=row.id, kind=kind, language=language
            )
            await append_entry(
                session, self._vault.index, actor, f"appeal.{kind}", ref, language, now
            )

    async def notes(self, ref: str, kind: str) -> dict[str, str]:
        """The ``kind`` texts of an appeal by language."""
        async with self._store.read() as session:
            row = await self._appeal(session, ref)
            key = await self._vault.key(session, row.data_key_id)
            notes = await session.execute(
                select(AppealNote).where(AppealNote.appeal_id == row.id, AppealNote.kind == kind)
            )
            return {
                n.language: open_text(key, "appeal_notes", "text", n.id, n.text_enc) or ""
                for n in notes.scalars()
            }

    async def recipients(self, ref: str) -> list[MemberGroup] | None:
        """The active, unmuted groups the appeal was sent to; None if none were
        recorded (an appeal sent before recipients were recorded)."""
        async with self._store.read() as session:
            row = await self._appeal(session, ref)
            rows = (
                await session.execute(
                    select(GroupRow)
                    .join(AppealRecipient, AppealRecipient.group_id == GroupRow.id)
                    .where(AppealRecipient.appeal_id == row.id)
                )
            ).scalars()
            groups = [await member_group(self._vault, session, g) for g in rows]
        if not groups:
            return None
        return [g for g in groups if g.active and not g.muted]

    @staticmethod
    async def _appeal(session: AsyncSession, ref: str) -> AppealRow:
        row = (
            await session.execute(select(AppealRow).where(AppealRow.ref == ref))
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("no such appeal")
        return row

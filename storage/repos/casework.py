"""Helpers shared by the case repository modules: loading, sealing, events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import DecryptionError, NotFound
from storage.models import Attachment as AttachmentRow
from storage.models import Case as CaseRow
from storage.models import CaseEvent as EventRow
from storage.records import AttachmentInfo, AttachmentInput, Case, CaseDetail, CaseEvent, Role
from storage.repos.base import load_by_ref, open_text, record_from, seal_bytes, seal_text, utf8
from storage.types import new_id
from storage.vault import Vault

CASES = "cases"
EVENTS = "case_events"
ATTACHMENTS = "attachments"
CASE_TEXT_FIELDS = ("what", "where", "who", "contact", "close_reason", "tags", "outcome")


async def load_case(session: AsyncSession, ref: str, *, lock: bool = False) -> CaseRow:
    return await load_by_ref(session, CaseRow, ref, "no such case", lock=lock)


async def case_id_of(session: AsyncSession, ref: str) -> int:
    """The id of the case ``ref``, reading nothing else; ``NotFound`` when there is none."""
    found = await session.scalar(select(CaseRow.id).where(CaseRow.ref == ref))
    if found is None:
        raise NotFound("no such case")
    return found


async def case_ref_of(session: AsyncSession, case_id: int) -> str | None:
    """The reference of the case ``case_id`` (None if there is no such case)."""
    return await session.scalar(select(CaseRow.ref).where(CaseRow.id == case_id))


async def load_own_case(session: AsyncSession, ref: str, account_id: int) -> CaseRow:
    """The case ``ref``, locked, if ``account_id`` reported it; anyone else's is
    NotFound, so a defender learns nothing of the cases of others."""
    row = await load_case(session, ref, lock=True)
    if row.reporter_account_id != account_id:
        raise NotFound("no such case")
    return row


async def case_key(session: AsyncSession, vault: Vault, row: CaseRow, now: datetime) -> bytes:
    """The case's data key; a fresh one if /forget destroyed the old one."""
    if row.data_key_id is None:
        row.data_key_id, key = await vault.new_key(session, now)
        return key
    return await vault.key(session, row.data_key_id)


def summary(row: CaseRow) -> Case:
    return record_from(Case, row, assigned=row.assignee_hash is not None)


def _open_case_field(key: bytes | None, row: CaseRow, field: str) -> str | None:
    blob: bytes | None = getattr(row, f"{field}_enc")
    if blob is None:
        return None
    return open_text(_need(key), CASES, field, row.id, blob)


def _need(key: bytes | None) -> bytes:
    """A ciphertext without its data key means the row was tampered with."""
    if key is None:
        raise DecryptionError("a record holds a ciphertext but its data key is gone")
    return key


async def detail(session: AsyncSession, vault: Vault, row: CaseRow) -> CaseDetail:
    key = None if row.data_key_id is None else await vault.key(session, row.data_key_id)
    attachments = await attachment_infos(session, key, row.id)
    texts = {field: _open_case_field(key, row, field) for field in CASE_TEXT_FIELDS}
    return record_from(
        CaseDetail,
        summary(row),
        what=texts["what"],
        where=texts["where"],
        who=texts["who"],
        contact=texts["contact"],
        assignee=_open_case_field(key, row, "assignee"),
        close_reason=texts["close_reason"],
        reporter_account_id=row.reporter_account_id,
        attachments=tuple(info for infos in attachments.values() for info in infos),
    )


async def attachment_infos(
    session: AsyncSession, key: bytes | None, case_id: int
) -> dict[int | None, list[AttachmentInfo]]:
    """Attachment metadata by event id (content not loaded)."""
    rows = await session.execute(
        select(
            AttachmentRow.id,
            AttachmentRow.event_id,
            AttachmentRow.filename_enc,
            AttachmentRow.mime,
            AttachmentRow.size,
            AttachmentRow.created_at,
        )
        .where(AttachmentRow.case_id == case_id)
        .order_by(AttachmentRow.created_at, AttachmentRow.id)
    )
    by_event: dict[int | None, list[AttachmentInfo]] = {}
    for att in rows:
        name = open_text(_need(key), ATTACHMENTS, "filename", att.id, att.filename_enc) or ""
        info = AttachmentInfo(att.id, name, att.mime, att.size, att.created_at)
        by_event.setdefault(att.event_id, []).append(info)
    return by_event


def add_attachments(
    session: AsyncSession,
    key: bytes,
    case_row: CaseRow,
    event_id: int,
    attachments: Sequence[AttachmentInput],
    now: datetime,
) -> list[AttachmentInfo]:
    infos = []
    for filename, mime, data in attachments:
        attachment_id = new_id()
        infos.append(AttachmentInfo(attachment_id, filename, mime, len(data), now))
        session.add(
            AttachmentRow(
                id=attachment_id,
                case_id=case_row.id,
                event_id=event_id,
                filename_enc=seal_bytes(
                    key, ATTACHMENTS, "filename", attachment_id, utf8(filename)
                ),
                mime=mime,
                size=len(data),
                data_enc=seal_bytes(key, ATTACHMENTS, "data", attachment_id, data),
                created_at=now,
            )
        )
    return infos


def add_event(
    session: AsyncSession,
    key: bytes,
    case_row: CaseRow,
    kind: str,
    role: Role,
    actor: str | None,
    now: datetime,
    *,
    value: str | None = None,
    text: str | None = None,
) -> EventRow:
    """Append to the case's history (the case row must be locked by the caller)."""
    case_row.event_count += 1
    case_row.updated_at = now
    event_id = new_id()
    row = EventRow(
        id=event_id,
        case_id=case_row.id,
        seq=case_row.event_count,
        kind=kind,
        role=role.value,
        actor=actor,
        value=value,
        text_enc=seal_text(key, EVENTS, "text", event_id, text),
        at=now,
    )
    session.add(row)
    return row


def event_record(
    key: bytes | None, row: EventRow, attachments: Sequence[AttachmentInfo] = ()
) -> CaseEvent:
    text = None
    if row.text_enc is not None:
        text = open_text(_need(key), EVENTS, "text", row.id, row.text_enc)
    return record_from(CaseEvent, row, text=text, attachments=tuple(attachments))

"""Cases: intake, reading, the defender's side, withdrawal and retention.

Triage actions live in ``storage/repos/triage.py`` (mixed into ``Cases``).
Every change records a history event, and, in the same transaction, an
audit entry; the defender appears in the audit log only as "defender", so
withdrawing a case leaves nothing there that points back to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import Account as AccountRow
from storage.models import Attachment as AttachmentRow
from storage.models import CallbackToken as TokenRow
from storage.models import Case as CaseRow
from storage.models import CaseCard as CardRow
from storage.models import CaseEvent as EventRow
from storage.models import Checkin as CheckinRow
from storage.models import Conversation as ConversationRow
from storage.models import Deadline as DeadlineRow
from storage.models import OutboxMessage as OutboxRow
from storage.records import (
    AttachmentInput,
    Case,
    CaseDetail,
    CaseEvent,
    CaseFilter,
    CaseState,
    Consent,
    EventKind,
    Priority,
    Role,
    Urgency,
    Verification,
)
from storage.repos.audit import append_entry
from storage.repos.base import open_bytes, open_text, record_from, seal_text, unique_violation
from storage.repos.case_cards import Cards
from storage.repos.casework import (
    ATTACHMENTS,
    CASE_TEXT_FIELDS,
    CASES,
    add_attachments,
    add_event,
    attachment_infos,
    case_key,
    detail,
    event_record,
    load_case,
    load_own_case,
    summary,
)
from storage.repos.consent import CaseConsent
from storage.repos.triage import Triage
from storage.types import new_id

DEFENDER = "defender"
_LIST_LIMIT = 500


class Cases(Triage, Cards, CaseConsent):
    # ----------------------------------------------------------------- intake
    async def create(
        self,
        ref: str,
        reporter_account_id: int | None,
        urgency: str,
        consent: str,
        channel: str,
        what: str,
        where: str | None,
        who: str | None,
        contact: str | None = None,
        attachments: Sequence[AttachmentInput] = (),
    ) -> CaseDetail:
        """Store a new report. ``Conflict`` if ``ref`` is taken: retry with a new one."""
        urgency, consent = Urgency(urgency).value, Consent(consent).value
        now = self._store.now()
        texts = {"what": what, "where": where, "who": who, "contact": contact}
        try:
            async with self._store.write() as session:
                key_id, key = await self._vault.new_key(session, now)
                case_id = new_id()
                row = CaseRow(
                    id=case_id,
                    ref=ref,
                    reporter_account_id=reporter_account_id,
                    data_key_id=key_id,
                    urgency=urgency,
                    consent=consent,
                    channel=channel,
                    state=CaseState.NEW.value,
                    priority=Priority.NORMAL.value,
                    verification=Verification.UNVERIFIED.value,
                    **{f"{f}_enc": seal_text(key, CASES, f, case_id, t) for f, t in texts.items()},
                    event_count=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                event = add_event(session, key, row, EventKind.CREATED, Role.DEFENDER, None, now)
                infos = add_attachments(session, key, row, event.id, attachments, now)
                # A taken reference fails here, on the unique constraint: Conflict.
                await session.flush()
                await append_entry(
                    session, self._vault.index, DEFENDER, "case.create", ref, urgency, now
                )
        except Conflict as exc:
            if unique_violation(exc, "uq_cases_ref", "cases.ref"):
                raise Conflict("case reference already in use") from None
            raise
        return record_from(
            CaseDetail,
            summary(row),
            what=what,
            where=where,
            who=who,
            contact=contact,
            assignee=None,
            close_reason=None,
            reporter_account_id=reporter_account_id,
            attachments=tuple(infos),
        )

    async def complete_details(
        self,
        ref: str,
        *,
        what: str,
        where: str | None,
        who: str | None,
        consent: str,
        contact: str | None = None,
        urgency: str | None = None,
        attachments: Sequence[AttachmentInput] = (),
    ) -> CaseDetail:
        """Complete an /sos case with the full report.

        The report fields are replaced, and so are the initial report's
        attachments (``attachments`` is the whole list again); files added
        later with /update stay.
        """
        consent = Consent(consent).value
        now = self._store.now()
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            key = await case_key(session, self._vault, row, now)
            texts = {"what": what, "where": where, "who": who, "contact": contact}
            for field, text in texts.items():
                setattr(row, f"{field}_enc", seal_text(key, CASES, field, row.id, text))
            row.consent = consent
            if urgency is not None:
                row.urgency = Urgency(urgency).value
            created = await session.scalar(
                select(EventRow.id).where(
                    EventRow.case_id == row.id, EventRow.kind == EventKind.CREATED.value
                )
            )
            await session.execute(
                delete(AttachmentRow).where(
                    AttachmentRow.case_id == row.id, AttachmentRow.event_id == created
                )
            )
            event = add_event(
                session, key, row, EventKind.DETAILS, Role.DEFENDER, None, now, value=consent
            )
            add_attachments(session, key, row, created or event.id, attachments, now)
            await append_entry(
                session, self._vault.index, DEFENDER, "case.details", ref, consent, now
            )
            await session.flush()
            return await detail(session, self._vault, row)

    async def add_update(
        self,
        ref: str,
        account_id: int,
        text: str | None,
        attachments: Sequence[AttachmentInput] = (),
        *,
        sos: bool = False,
    ) -> CaseEvent:
        """The defender adds to their own case (``NotFound`` for anyone else's).

        ``sos``: an alarm raised again on this case (an /sos over the daily
        limit of new cases): the event is marked ``sos`` and the case's
        urgency becomes immediate.
        """
        now = self._store.now()
        async with self._store.write() as session:
            row = await load_own_case(session, ref, account_id)
            key = await case_key(session, self._vault, row, now)
            if sos:
                row.urgency = Urgency.IMMEDIATE.value
            event = add_event(
                session,
                key,
                row,
                EventKind.UPDATE,
                Role.DEFENDER,
                None,
                now,
                text=text,
                value="sos" if sos else None,
            )
            await session.flush()
            add_attachments(session, key, row, event.id, attachments, now)
            action = "case.sos" if sos else "case.update"
            await append_entry(session, self._vault.index, DEFENDER, action, ref, None, now)
            await session.flush()
            infos = await attachment_infos(session, key, row.id)
            return event_record(key, event, infos.get(event.id, ()))

    async def reopen(self, ref: str, account_id: int, closed_since: datetime) -> bool:
        """The defender reopens their closed case (closed at or after ``closed_since``).

        False when the case is open, or closed too long ago; ``NotFound`` for
        anyone else's case.
        """
        now = self._store.now()
        async with self._store.write() as session:
            row = await load_own_case(session, ref, account_id)
            if row.state != CaseState.CLOSED.value or row.closed_at is None:
                return False
            if row.closed_at < closed_since:
                return False
            key = await case_key(session, self._vault, row, now)
            row.state, row.closed_at = CaseState.TRIAGE.value, None
            add_event(session, key, row, EventKind.REOPENED, Role.DEFENDER, None, now)
            await append_entry(session, self._vault.index, DEFENDER, "case.reopen", ref, None, now)
            return True

    # ---------------------------------------------------------------- reading
    async def get(self, ref: str) -> CaseDetail:
        async with self._store.read() as session:
            return await detail(session, self._vault, await load_case(session, ref))

    async def attachment_data(self, attachment_id: int) -> bytes:
        async with self._store.read() as session:
            att = await session.get(AttachmentRow, attachment_id)
            if att is None:
                raise NotFound("no such attachment")
            key_id = await session.scalar(
                select(CaseRow.data_key_id).where(CaseRow.id == att.case_id)
            )
            key = await self._vault.key(session, key_id)
            return open_bytes(key, ATTACHMENTS, "data", att.id, att.data_enc)

    async def cases_of(self, account_id: int) -> list[Case]:
        """The defender's own cases, newest first."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(CaseRow)
                .where(CaseRow.reporter_account_id == account_id)
                .order_by(CaseRow.created_at.desc(), CaseRow.id)
            )
            return [summary(row) for row in rows.scalars()]

    async def list_cases(
        self, filter: str = CaseFilter.OPEN, actor: str | None = None, limit: int = _LIST_LIMIT
    ) -> list[Case]:
        """Cases for triage, oldest first. ``mine`` needs ``actor`` (the advisor's address);
        ``overdue`` means open with a follow-up date that has passed."""
        which = CaseFilter(filter)
        stmt = select(CaseRow)
        if which is not CaseFilter.ALL:
            stmt = stmt.where(CaseRow.state != CaseState.CLOSED.value)
        if which is CaseFilter.MINE:
            if actor is None:
                raise ValueError("the 'mine' filter needs the actor")
            stmt = stmt.where(CaseRow.assignee_hash == self._vault.index.address_hash(actor))
        if which is CaseFilter.OVERDUE:
            stmt = stmt.where(CaseRow.followup_at <= self._store.now())
        stmt = stmt.order_by(CaseRow.created_at, CaseRow.id).limit(limit)
        async with self._store.read() as session:
            return [summary(row) for row in (await session.execute(stmt)).scalars()]

    async def history(self, ref: str) -> list[CaseEvent]:
        async with self._store.read() as session:
            row = await load_case(session, ref)
            key = (
                None if row.data_key_id is None else await self._vault.key(session, row.data_key_id)
            )
            infos = await attachment_infos(session, key, row.id)
            events = await session.execute(
                select(EventRow).where(EventRow.case_id == row.id).order_by(EventRow.seq)
            )
            return [event_record(key, ev, infos.get(ev.id, ())) for ev in events.scalars()]

    events = history

    # ------------------------------------------------------ withdrawal, purge
    async def forget_reporter(self, account_id: int) -> list[str]:
        """/forget: erase what the defender gave us; keep reference, dates and state.

        Report texts, notes, questions, attachments, contact details, the
        conversation draft and the account's address go; each case's data
        key is destroyed (so copies of its ciphertexts are unreadable too)
        and the case is unlinked from the account and marked withdrawn.
        """
        now = self._store.now()
        async with self._store.write() as session:
            rows = (
                (
                    await session.execute(
                        select(CaseRow)
                        .where(CaseRow.reporter_account_id == account_id)
                        .with_for_update()
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                await self._erase_case(session, row, now)
            await session.execute(
                delete(ConversationRow).where(ConversationRow.account_id == account_id)
            )
            # Check-ins stop with the data: they would otherwise keep asking.
            await session.execute(delete(CheckinRow).where(CheckinRow.account_id == account_id))
            address_hash = await session.scalar(
                select(AccountRow.address_hash).where(AccountRow.id == account_id)
            )
            if address_hash is not None:  # messages to them (relayed questions), buttons
                await session.execute(
                    delete(OutboxRow).where(OutboxRow.destination_hash == address_hash)
                )
                await session.execute(delete(TokenRow).where(TokenRow.chat_hash == address_hash))
            await session.execute(
                update(AccountRow)
                .where(AccountRow.id == account_id)
                .values(address_enc=None, updated_at=now)
            )
            refs = [row.ref for row in rows]
        await self._store.checkpoint_after_commit()
        return refs

    async def _erase_case(self, session: AsyncSession, row: CaseRow, now: datetime) -> None:
        assignee = None
        if row.assignee_enc is not None and row.data_key_id is not None:
            old_key = await self._vault.key(session, row.data_key_id)
            assignee = open_text(old_key, CASES, "assignee", row.id, row.assignee_enc)
        await session.execute(delete(AttachmentRow).where(AttachmentRow.case_id == row.id))
        await session.execute(
            update(EventRow).where(EventRow.case_id == row.id).values(text_enc=None)
        )
        await session.execute(
            update(CardRow).where(CardRow.case_id == row.id).values(location_enc=None)
        )
        old_key_id, row.data_key_id = row.data_key_id, None
        for field in (*CASE_TEXT_FIELDS, "assignee"):
            setattr(row, f"{field}_enc", None)
        await session.flush()
        await self._vault.destroy(session, [old_key_id])
        key = await case_key(session, self._vault, row, now)
        if assignee is not None:  # the advisor's assignment is not the defender's data
            row.assignee_enc = seal_text(key, CASES, "assignee", row.id, assignee)
        row.reporter_account_id = None
        row.withdrawn_at = now
        add_event(session, key, row, EventKind.WITHDRAWN, Role.DEFENDER, None, now)
        await append_entry(
            session, self._vault.index, DEFENDER, "case.withdraw", row.ref, None, now
        )

    async def oldest_closed_at(self) -> datetime | None:
        """When the longest-closed case was closed (the next one retention deletes)."""
        async with self._store.read() as session:
            return await session.scalar(
                select(func.min(CaseRow.closed_at)).where(CaseRow.state == CaseState.CLOSED.value)
            )

    async def purge_closed_older_than(self, cutoff: datetime) -> int:
        """Retention: delete cases closed before ``cutoff`` with everything attached."""
        now = self._store.now()
        async with self._store.write() as session:
            rows = (
                await session.execute(
                    select(CaseRow.id, CaseRow.ref, CaseRow.data_key_id).where(
                        CaseRow.state == CaseState.CLOSED.value, CaseRow.closed_at <= cutoff
                    )
                )
            ).all()
            if not rows:
                return 0
            ids = [r.id for r in rows]
            refs = [r.ref for r in rows]
            await session.execute(delete(CaseRow).where(CaseRow.id.in_(ids)))
            await session.execute(delete(DeadlineRow).where(DeadlineRow.object_ref.in_(refs)))
            await self._vault.destroy(session, [r.data_key_id for r in rows])
            await append_entry(
                session, self._vault.index, "system", "case.purge", None, str(len(ids)), now
            )
        await self._store.checkpoint_after_commit()
        return len(ids)

    # ``db.cases.list(...)`` reads best at the call site; defined last so that
    # the name does not shadow the builtin in the annotations above.
    list = list_cases

"""The partner directory and referrals of cases to partners.

A partner's name, contact and notes are sealed with the partner's own data
key and found by a keyed hash of the name, like member organisations. A
referral's note is sealed with the case's data key (its id is kept on the
referral): withdrawing the case destroys that key and the note with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import Case as CaseRow
from storage.models import Partner as PartnerRow
from storage.models import Referral as ReferralRow
from storage.records import EventKind, Referral, Role
from storage.records_casework import PartnerEntry, ReferralRecord
from storage.repos.audit import append_entry
from storage.repos.base import (
    Repository,
    load_by_ref,
    open_text,
    record_from,
    seal_bytes,
    seal_text,
    unique_violation,
)
from storage.repos.casework import add_event, case_key, case_ref_of, load_case
from storage.types import new_id

PARTNERS = "partners"
REFERRALS = "referrals"
STATES = ("requested", "accepted", "declined", "delivered", "closed")
OPEN_STATES = ("requested", "accepted")
BLOCKED = "blocked"
"""The history's word for a referral whose summary narrowed consent stopped."""
DEFENDER = "defender"  # the audit's actor for what the defender's choice caused


def _join(values: Sequence[str]) -> str:
    return ";".join(values)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(";") if part)


class Partners(Repository):
    # --------------------------------------------------------------- directory
    async def import_partners(self, entries: Sequence[PartnerEntry]) -> int:
        """Upsert every entry by name in ONE transaction: all or nothing."""
        now = self._store.now()
        async with self._store.write() as session:
            for entry in entries:
                name_hash = self._vault.index.name_hash("partner", entry.name)
                row = (
                    await session.execute(
                        select(PartnerRow).where(PartnerRow.name_hash == name_hash)
                    )
                ).scalar_one_or_none()
                if row is None:
                    key_id, key = await self._vault.new_key(session, now)
                    row = PartnerRow(
                        id=new_id(), name_hash=name_hash, data_key_id=key_id, created_at=now
                    )
                    row.name_enc = seal_bytes(
                        key, PARTNERS, "name", row.id, entry.name.strip().encode()
                    )
                    session.add(row)
                else:
                    key = await self._vault.key(session, row.data_key_id)
                row.kinds, row.regions = _join(entry.kinds), _join(entry.regions)
                row.languages = _join(entry.languages)
                row.contact_enc = seal_text(key, PARTNERS, "contact", row.id, entry.contact or None)
                row.notes_enc = seal_text(key, PARTNERS, "notes", row.id, entry.notes or None)
                row.updated_at = now
                await session.flush()
            await append_entry(
                session,
                self._vault.index,
                "system",
                "partners.import",
                None,
                str(len(entries)),
                now,
            )
        return len(entries)

    async def export_partners(self) -> list[PartnerEntry]:
        async with self._store.read() as session:
            rows = (await session.execute(select(PartnerRow))).scalars().all()
            entries = [await self._entry(session, row) for row in rows]
        return sorted(entries, key=lambda e: e.name.casefold())

    async def _entry(self, session: AsyncSession, row: PartnerRow) -> PartnerEntry:
        key = await self._vault.key(session, row.data_key_id)
        return PartnerEntry(
            name=open_text(key, PARTNERS, "name", row.id, row.name_enc) or "",
            kinds=_split(row.kinds),
            regions=_split(row.regions),
            languages=_split(row.languages),
            contact=open_text(key, PARTNERS, "contact", row.id, row.contact_enc) or "",
            notes=open_text(key, PARTNERS, "notes", row.id, row.notes_enc) or "",
        )

    async def find(self, name: str) -> PartnerEntry | None:
        name_hash = self._vault.index.name_hash("partner", name)
        async with self._store.read() as session:
            row = (
                await session.execute(select(PartnerRow).where(PartnerRow.name_hash == name_hash))
            ).scalar_one_or_none()
            return None if row is None else await self._entry(session, row)

    # --------------------------------------------------------------- referrals
    async def refer(
        self, ref: str, case_ref: str, actor: str, partner: str, kind: str, note: str | None
    ) -> ReferralRecord:
        """Open referral ``ref`` (state ``requested``). ``NotFound`` for an unknown
        case or partner; ``Conflict`` if ``ref`` is taken (retry with another)."""
        if kind not in tuple(Referral):
            raise ValueError(f"referral kind must be one of {', '.join(Referral)}")
        now = self._store.now()
        index = self._vault.index
        try:
            async with self._store.write() as session:
                case = await load_case(session, case_ref, lock=True)
                partner_row = (
                    await session.execute(
                        select(PartnerRow).where(
                            PartnerRow.name_hash == index.name_hash("partner", partner)
                        )
                    )
                ).scalar_one_or_none()
                if partner_row is None:
                    raise NotFound("no such partner")
                key = await case_key(session, self._vault, case, now)
                row = ReferralRow(
                    id=new_id(),
                    ref=ref,
                    case_id=case.id,
                    partner_id=partner_row.id,
                    data_key_id=case.data_key_id,
                    kind=kind,
                    state="requested",
                    sent=0,
                    created_at=now,
                    updated_at=now,
                )
                row.note_enc = seal_text(key, REFERRALS, "note", row.id, note)
                session.add(row)
                add_event(
                    session,
                    key,
                    case,
                    EventKind.REFERRED,
                    Role.ADVISOR,
                    index.pseudonym(actor),
                    now,
                    value=kind,
                    text=ref,
                )
                await session.flush()
                await append_entry(session, index, actor, "referral.open", ref, kind, now)
                return await self._record(session, row, case.ref)
        except Conflict as exc:
            if unique_violation(exc, "uq_referrals_ref", "referrals.ref"):
                raise Conflict("referral reference already in use") from None
            raise

    async def move(self, ref: str, actor: str, state: str, note: str | None) -> ReferralRecord:
        """Move the referral on (``Conflict`` from a closed one). The note goes to the
        case's history, sealed."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            row = await self._load(session, ref)
            if row.state == "closed":
                raise Conflict("the referral is closed")
            case = await session.get(CaseRow, row.case_id, with_for_update=True)
            assert case is not None  # the foreign key cascades
            key = await case_key(session, self._vault, case, now)
            row.state, row.updated_at = state, now
            add_event(
                session,
                key,
                case,
                EventKind.REFERRAL,
                Role.ADVISOR,
                index.pseudonym(actor),
                now,
                value=state,
                text=" ".join(p for p in (ref, note) if p),
            )
            await append_entry(session, index, actor, "referral.state", ref, state, now)
            return await self._record(session, row, case.ref)

    async def mark_sent(self, ref: str, actor: str) -> ReferralRecord:
        """Count a summary sent to the partner (news of a kind: the clock restarts)."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._load(session, ref)
            row.sent += 1
            row.updated_at = now
            await append_entry(session, self._vault.index, actor, "referral.send", ref, None, now)
            case_ref = await case_ref_of(session, row.case_id)
            return await self._record(session, row, str(case_ref))

    async def block_unsent(self, case_ref: str, old: str, new: str) -> list[str]:
        """The defender narrowed the consent of ``case_ref`` from ``old`` to ``new``:
        every open referral of the case whose summary was never sent is blocked
        (audited, in the case history); the references blocked now, in order.

        Called in the consent change's unit of work, so the change and the
        blocks commit together. A referral stays blocked: a send under the new
        consent is a new decision, a new ``/refer``."""
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            case = await load_case(session, case_ref, lock=True)
            rows = (
                (
                    await session.execute(
                        select(ReferralRow)
                        .where(
                            ReferralRow.case_id == case.id,
                            ReferralRow.state.in_(OPEN_STATES),
                            ReferralRow.sent == 0,
                            ReferralRow.blocked_at.is_(None),
                        )
                        .order_by(ReferralRow.created_at, ReferralRow.id)
                        .with_for_update()
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return []
            key = await case_key(session, self._vault, case, now)
            for row in rows:
                row.blocked_at, row.blocked_from, row.blocked_to = now, old, new
                add_event(
                    session,
                    key,
                    case,
                    EventKind.REFERRAL,
                    Role.DEFENDER,
                    None,
                    now,
                    value=BLOCKED,
                    text=row.ref,
                )
                await append_entry(
                    session, index, DEFENDER, "referral.blocked", row.ref, f"{old}>{new}", now
                )
            return [row.ref for row in rows]

    async def get(self, ref: str) -> ReferralRecord:
        async with self._store.read() as session:
            row = await self._load(session, ref, lock=False)
            case_ref = await case_ref_of(session, row.case_id)
            return await self._record(session, row, str(case_ref))

    async def open_without_news(self, since: datetime) -> list[ReferralRecord]:
        """Open referrals whose last news is older than ``since``, oldest first."""
        stmt = (
            select(ReferralRow, CaseRow.ref)
            .join(CaseRow, CaseRow.id == ReferralRow.case_id)
            .where(ReferralRow.state.in_(OPEN_STATES), ReferralRow.updated_at <= since)
            .order_by(ReferralRow.updated_at, ReferralRow.id)
        )
        async with self._store.read() as session:
            found = (await session.execute(stmt)).all()
            return [await self._record(session, row, case_ref) for row, case_ref in found]

    async def of_case(self, case_ref: str) -> list[ReferralRecord]:
        async with self._store.read() as session:
            case = await load_case(session, case_ref)
            rows = (
                await session.execute(
                    select(ReferralRow)
                    .where(ReferralRow.case_id == case.id)
                    .order_by(ReferralRow.created_at, ReferralRow.id)
                )
            ).scalars()
            return [await self._record(session, row, case_ref) for row in rows]

    async def _load(self, session: AsyncSession, ref: str, *, lock: bool = True) -> ReferralRow:
        return await load_by_ref(session, ReferralRow, ref, "no such referral", lock=lock)

    async def _record(
        self, session: AsyncSession, row: ReferralRow, case_ref: str
    ) -> ReferralRecord:
        note = None
        if row.note_enc is not None and row.data_key_id is not None:
            key = await self._vault.key(session, row.data_key_id)
            note = open_text(key, REFERRALS, "note", row.id, row.note_enc)
        name = contact = None
        if row.partner_id is not None:
            partner = await session.get(PartnerRow, row.partner_id)
            if partner is not None:
                entry = await self._entry(session, partner)
                name, contact = entry.name, entry.contact or None
        return record_from(
            ReferralRecord, row, case_ref=case_ref, partner=name, partner_contact=contact, note=note
        )

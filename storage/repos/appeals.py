"""Appeals: drafts, texts per language, approvals and signatures.

Every action is audited in the same transaction. Changing a text or the
audience of a draft withdraws its approvals: advisors approve what is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, DecryptionError, NotFound
from storage.models import Appeal as AppealRow
from storage.models import AppealText, Approval, Signature
from storage.models import Organisation as OrgRow
from storage.records import (
    Appeal,
    AppealDetail,
    AppealState,
    BroadcastKind,
    MemberKind,
    SignatureRecord,
)
from storage.repos.appeal_notes import put_text, record_recipients
from storage.repos.audit import append_entry
from storage.repos.base import (
    Repository,
    load_by_ref,
    open_text,
    record_from,
    refuse_taken_ref,
    rowcount,
)
from storage.repos.casework import case_id_of, case_ref_of
from storage.repos.outbox_rows import Delivery, add_broadcast
from storage.types import new_id

DRAFT, SENT, CLOSED = AppealState.DRAFT, AppealState.SENT, AppealState.CLOSED


class Appeals(Repository):
    async def create(self, ref: str, drafter: str, case_ref: str | None = None) -> Appeal:
        """Open a draft (``Conflict`` on a taken reference, ``NotFound`` for an unknown case)."""
        now = self._store.now()
        async with self._store.write() as session:
            await refuse_taken_ref(session, AppealRow.ref, ref, "appeal")
            case_id = None if case_ref is None else await case_id_of(session, case_ref)
            key_id, _ = await self._vault.new_key(session, now)
            row = AppealRow(
                id=new_id(),
                ref=ref,
                case_id=case_id,
                data_key_id=key_id,
                state=DRAFT,
                drafter=self._vault.index.pseudonym(drafter),
                allow_individuals=True,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await self._audit(session, drafter, "appeal.create", ref, case_ref, now)
            return await self._appeal(session, row)

    async def get(self, ref: str) -> AppealDetail:
        async with self._store.read() as session:
            row = await self._row(session, ref)
            base = await self._appeal(session, row)
            key = await self._vault.key(session, row.data_key_id)
            texts = await session.execute(select(AppealText).where(AppealText.appeal_id == row.id))
            approvers = await session.execute(
                select(Approval.approver).where(Approval.appeal_id == row.id).order_by(Approval.at)
            )
            return record_from(
                AppealDetail,
                base,
                texts={
                    t.language: open_text(key, "appeal_texts", "text", t.id, t.text_enc) or ""
                    for t in texts.scalars()
                },
                approvers=tuple(approvers.scalars()),
            )

    async def list_appeals(self, state: str | None = None) -> list[Appeal]:
        stmt = select(AppealRow).order_by(AppealRow.created_at, AppealRow.id)
        if state is not None:
            stmt = stmt.where(AppealRow.state == state)
        async with self._store.read() as session:
            return [await self._appeal(session, r) for r in (await session.execute(stmt)).scalars()]

    async def set_text(self, ref: str, actor: str, language: str, text: str) -> int:
        """Set the text in ``language``; returns how many approvals this withdrew."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._draft(session, ref)
            key = await self._vault.key(session, row.data_key_id)
            await put_text(session, AppealText, key, text, now, appeal_id=row.id, language=language)
            return await self._changed(session, row, actor, "appeal.text", language, now)

    async def set_deadline(self, ref: str, actor: str, deadline_at: datetime | None) -> Appeal:
        if deadline_at is not None and deadline_at.tzinfo is None:
            raise ValueError("deadline_at must be timezone-aware")
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._row(session, ref, lock=True)
            if row.state == CLOSED:
                raise Conflict("the appeal is closed")
            row.deadline_at = deadline_at
            detail = None if deadline_at is None else deadline_at.isoformat(timespec="minutes")
            row.updated_at = now
            await self._audit(session, actor, "appeal.deadline", ref, detail, now)
            return await self._appeal(session, row)

    async def set_target(
        self,
        ref: str,
        actor: str,
        *,
        region: str | None = None,
        language: str | None = None,
        group: str | None = None,
        allow_individuals: bool | None = None,
    ) -> Appeal:
        """Choose the audience (None leaves a criterion unrestricted)."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._draft(session, ref)
            row.target_region, row.target_language, row.target_group = region, language, group
            if allow_individuals is not None:
                row.allow_individuals = allow_individuals
            detail = f"region={region or '*'} language={language or '*'} group={group or '*'}"
            await self._changed(session, row, actor, "appeal.target", detail, now)
            return await self._appeal(session, row)

    async def approve(self, ref: str, approver: str) -> int:
        """Record ``approver``'s approval of the draft; returns the number of distinct approvals."""
        now = self._store.now()
        pseudonym = self._vault.index.pseudonym(approver)
        async with self._store.write() as session:
            row = await self._draft(session, ref)
            already = await session.scalar(
                select(Approval.id).where(
                    Approval.appeal_id == row.id, Approval.approver == pseudonym
                )
            )
            if already is None:
                session.add(Approval(id=new_id(), appeal_id=row.id, approver=pseudonym, at=now))
                await self._audit(session, approver, "appeal.approve", ref, None, now)
                await session.flush()
            return await self._approvals(session, row.id)

    async def send(
        self, ref: str, actor: str, deliveries: Sequence[Delivery], report_to: Sequence[str]
    ) -> Appeal:
        """Open the appeal for signatures and queue its broadcast, in one transaction:
        an appeal is never "sent" without its messages queued, nor the reverse."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._draft(session, ref)
            row.state, row.sent_at, row.updated_at = SENT, now, now
            await add_broadcast(
                session, self._store, BroadcastKind.APPEAL, ref, deliveries, report_to
            )
            # Who hears the outcome later: the groups this send reaches.
            await record_recipients(
                session, self._vault.index, row.id, [d.address for d in deliveries]
            )
            await self._audit(session, actor, "appeal.send", ref, str(len(deliveries)), now)
            return await self._appeal(session, row)

    async def close(self, ref: str, actor: str) -> Appeal:
        """Signing closes (the deadline passed, or an advisor closed it)."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._row(session, ref, lock=True)
            if row.state != CLOSED:
                row.state, row.closed_at, row.updated_at = CLOSED, now, now
                await self._audit(session, actor, "appeal.close", ref, None, now)
            return await self._appeal(session, row)

    # -------------------------------------------------------------- signatures
    async def sign(
        self, ref: str, organisation_id: int, signer: str, via_group_id: int | None = None
    ) -> bool:
        """Sign for an organisation; False if it had already signed. ``Conflict`` unless open."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._open_for_signatures(session, ref)
            org = await session.get(OrgRow, organisation_id)
            if org is None or not org.active:
                raise NotFound("no such organisation")
            if org.kind == MemberKind.INDIVIDUAL and not row.allow_individuals:
                raise Conflict("this appeal takes signatures from organisations only")
            exists = await session.scalar(
                select(Signature.id).where(
                    Signature.appeal_id == row.id, Signature.organisation_id == organisation_id
                )
            )
            if exists is not None:
                return False
            session.add(
                Signature(
                    id=new_id(),
                    appeal_id=row.id,
                    organisation_id=organisation_id,
                    signer=self._vault.index.pseudonym(signer),
                    via_group_id=via_group_id,
                    at=now,
                )
            )
            await self._audit(session, signer, "appeal.sign", ref, None, now)
            return True

    async def unsign(self, ref: str, organisation_id: int, signer: str) -> bool:
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._open_for_signatures(session, ref)
            result = await session.execute(
                delete(Signature).where(
                    Signature.appeal_id == row.id, Signature.organisation_id == organisation_id
                )
            )
            if rowcount(result) == 0:
                return False
            await self._audit(session, signer, "appeal.unsign", ref, None, now)
            return True

    async def signatures(self, ref: str) -> list[SignatureRecord]:
        """Signatories in signing order (for the tally and the export)."""
        async with self._store.read() as session:
            row = await self._row(session, ref)
            result = await session.execute(
                select(Signature, OrgRow)
                .join(OrgRow, OrgRow.id == Signature.organisation_id)
                .where(Signature.appeal_id == row.id)
                .order_by(Signature.at, Signature.id)
            )
            pairs = [(sig, org) for sig, org in result]
            keys = await self._vault.keys(session, (org.data_key_id for _, org in pairs))
            records = []
            for sig, org in pairs:
                key = keys.get(org.data_key_id) if org.data_key_id is not None else None
                if key is None:
                    raise DecryptionError("this record's data key was destroyed")
                name = open_text(key, "organisations", "name", org.id, org.name_enc) or ""
                records.append(
                    SignatureRecord(
                        org.id,
                        name,
                        org.kind,
                        org.country,
                        org.region,
                        sig.at,
                        sig.via_group_id is not None,
                    )
                )
            return records

    async def signed_organisation_ids(self, ref: str) -> set[int]:
        """Organisations that signed: reminders go to the audience minus these."""
        async with self._store.read() as session:
            row = await self._row(session, ref)
            ids = await session.execute(
                select(Signature.organisation_id).where(Signature.appeal_id == row.id)
            )
            return set(ids.scalars())

    # --------------------------------------------------------------- internals
    @staticmethod
    async def _row(session: AsyncSession, ref: str, *, lock: bool = False) -> AppealRow:
        return await load_by_ref(session, AppealRow, ref, "no such appeal", lock=lock)

    async def _open_for_signatures(self, session: AsyncSession, ref: str) -> AppealRow:
        """The appeal's row, locked; ``Conflict`` unless it was sent and is not closed."""
        row = await self._row(session, ref, lock=True)
        if row.state == DRAFT:  # handlers answer as for an unknown appeal
            raise Conflict("the appeal is a draft")
        if row.state != SENT:
            raise Conflict("the appeal is not open for signatures")
        return row

    async def _draft(self, session: AsyncSession, ref: str) -> AppealRow:
        row = await self._row(session, ref, lock=True)
        if row.state != DRAFT:
            raise Conflict("the appeal was already sent")
        return row

    async def _changed(
        self,
        session: AsyncSession,
        row: AppealRow,
        actor: str,
        action: str,
        detail: str,
        now: datetime,
    ) -> int:
        """A change to the draft withdraws its approvals; returns how many."""
        result = await session.execute(delete(Approval).where(Approval.appeal_id == row.id))
        row.updated_at = now
        await self._audit(session, actor, action, row.ref, detail, now)
        return rowcount(result)

    async def _audit(
        self,
        session: AsyncSession,
        actor: str,
        action: str,
        ref: str,
        detail: str | None,
        now: datetime,
    ) -> None:
        await append_entry(session, self._vault.index, actor, action, ref, detail, now)

    @staticmethod
    async def _approvals(session: AsyncSession, appeal_id: int) -> int:
        count = await session.scalar(
            select(func.count()).select_from(Approval).where(Approval.appeal_id == appeal_id)
        )
        return int(count or 0)

    async def _appeal(self, session: AsyncSession, row: AppealRow) -> Appeal:
        await session.flush()
        case_ref = None
        if row.case_id is not None:
            case_ref = await case_ref_of(session, row.case_id)
        approvals = await self._approvals(session, row.id)
        return record_from(Appeal, row, case_ref=case_ref, approvals=approvals)

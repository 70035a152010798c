"""Members' proposals for collective action (``P-…``).

The text and the reason for a decline are sealed like a report (a proposal
can name people at risk); the proposing organisation, its group and the
case stay as ids. Accepting creates the appeal draft, pre-filled with the
proposal's text, in the same transaction: a proposal is never "accepted"
without its draft, nor a draft made twice from one proposal.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict
from storage.models import Appeal as AppealRow
from storage.models import AppealText, Proposal
from storage.models import MemberGroup as GroupRow
from storage.models import Organisation as OrgRow
from storage.repos.audit import append_entry
from storage.repos.base import (
    Repository,
    load_by_ref,
    open_json,
    open_text,
    refuse_taken_ref,
    seal_json,
    seal_text,
)
from storage.repos.casework import case_id_of, case_ref_of
from storage.types import new_id

NEW, ACCEPTED, DECLINED = "new", "accepted", "declined"
_TABLE = "proposals"


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    ref: str
    state: str  # new | accepted | declined
    organisation: str
    group_address: str | None  # the member group it came from, to answer there
    group_language: str | None
    case_ref: str | None
    appeal_ref: str | None
    text: str
    reason: str | None
    files: int  # how many files came with it (``Proposals.files`` gives them)
    created_at: datetime


File = tuple[str, str, bytes]  # file name, MIME type, content


class Proposals(Repository):
    async def create(
        self,
        ref: str,
        proposer: str,
        organisation_id: int,
        group_id: int | None,
        case_ref: str | None,
        text: str,
        files: Sequence[File] = (),
    ) -> ProposalRecord:
        """Record a proposal (``Conflict`` on a taken reference, ``NotFound`` for a case)."""
        now = self._store.now()
        async with self._store.write() as session:
            await refuse_taken_ref(session, Proposal.ref, ref, "proposal")
            case_id = None if case_ref is None else await case_id_of(session, case_ref)
            key_id, key = await self._vault.new_key(session, now)
            row = Proposal(
                id=new_id(),
                ref=ref,
                organisation_id=organisation_id,
                group_id=group_id,
                case_id=case_id,
                data_key_id=key_id,
                proposer=self._vault.index.pseudonym(proposer),
                state=NEW,
                created_at=now,
                updated_at=now,
            )
            row.text_enc = seal_text(key, _TABLE, "text", row.id, text) or b""
            if files:
                row.files_enc = seal_json(
                    key,
                    _TABLE,
                    "files",
                    row.id,
                    [
                        [name, mime, base64.b64encode(data).decode("ascii")]
                        for name, mime, data in files
                    ],
                )
            session.add(row)
            index = self._vault.index
            await append_entry(session, index, proposer, "proposal.create", ref, None, now)
            await session.flush()
            return await self._record(session, row)

    async def get(self, ref: str) -> ProposalRecord:
        async with self._store.read() as session:
            return await self._record(session, await self._row(session, ref))

    async def files(self, ref: str) -> list[File]:
        """The files that came with a proposal, decrypted."""
        async with self._store.read() as session:
            row = await self._row(session, ref)
            if row.files_enc is None:
                return []
            key = await self._vault.key(session, row.data_key_id)
            stored = open_json(key, _TABLE, "files", row.id, row.files_enc)
            return [(name, mime, base64.b64decode(data)) for name, mime, data in stored]

    async def accept(self, ref: str, actor: str, appeal_ref: str, language: str) -> ProposalRecord:
        """Create the appeal draft ``appeal_ref`` with the proposal's text in
        ``language`` and link it; ``Conflict`` unless the proposal is new."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._row(session, ref, lock=True)
            if row.state != NEW:
                raise Conflict("the proposal was already answered")
            await refuse_taken_ref(session, AppealRow.ref, appeal_ref, "appeal")
            key = await self._vault.key(session, row.data_key_id)
            text = open_text(key, _TABLE, "text", row.id, row.text_enc) or ""
            appeal_key_id, appeal_key = await self._vault.new_key(session, now)
            appeal = AppealRow(
                id=new_id(),
                ref=appeal_ref,
                case_id=row.case_id,
                data_key_id=appeal_key_id,
                state="draft",
                drafter=self._vault.index.pseudonym(actor),
                allow_individuals=True,
                created_at=now,
                updated_at=now,
            )
            session.add(appeal)
            await session.flush()  # the appeal row first: its text refers to it
            if text:  # a proposal of files only leaves the texts to the advisors
                text_row = AppealText(id=new_id(), appeal_id=appeal.id, language=language)
                text_row.text_enc = (
                    seal_text(appeal_key, "appeal_texts", "text", text_row.id, text) or b""
                )
                text_row.updated_at = now
                session.add(text_row)
            row.state, row.appeal_id, row.updated_at = ACCEPTED, appeal.id, now
            index = self._vault.index
            await append_entry(session, index, actor, "appeal.create", appeal_ref, ref, now)
            await append_entry(session, index, actor, "proposal.accept", ref, appeal_ref, now)
            await session.flush()
            return await self._record(session, row)

    async def decline(self, ref: str, actor: str, reason: str) -> ProposalRecord:
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._row(session, ref, lock=True)
            if row.state != NEW:
                raise Conflict("the proposal was already answered")
            key = await self._vault.key(session, row.data_key_id)
            row.reason_enc = seal_text(key, _TABLE, "reason", row.id, reason)
            row.state, row.updated_at = DECLINED, now
            index = self._vault.index
            await append_entry(session, index, actor, "proposal.decline", ref, None, now)
            return await self._record(session, row)

    async def for_appeal(self, appeal_ref: str) -> list[ProposalRecord]:
        """The proposals an appeal came from (to tell their groups it was sent)."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(Proposal)
                .join(AppealRow, AppealRow.id == Proposal.appeal_id)
                .where(AppealRow.ref == appeal_ref)
            )
            return [await self._record(session, r) for r in rows.scalars()]

    # -------------------------------------------------------------- internals
    @staticmethod
    async def _row(session: AsyncSession, ref: str, *, lock: bool = False) -> Proposal:
        return await load_by_ref(session, Proposal, ref, "no such proposal", lock=lock)

    async def _record(self, session: AsyncSession, row: Proposal) -> ProposalRecord:
        key = await self._vault.key(session, row.data_key_id)
        org = await session.get(OrgRow, row.organisation_id)
        org_key = await self._vault.key(session, org.data_key_id) if org else None
        name = (
            open_text(org_key, "organisations", "name", org.id, org.name_enc) or ""
            if org and org_key
            else ""
        )
        group = await session.get(GroupRow, row.group_id) if row.group_id else None
        address = None
        if group is not None and group.active:
            group_key = await self._vault.key(session, group.data_key_id)
            address = open_text(group_key, "member_groups", "chat", group.id, group.chat_enc)
        case_ref = await case_ref_of(session, row.case_id) if row.case_id else None
        appeal_ref = (
            await session.scalar(select(AppealRow.ref).where(AppealRow.id == row.appeal_id))
            if row.appeal_id
            else None
        )
        return ProposalRecord(
            ref=row.ref,
            state=row.state,
            organisation=name,
            group_address=address,
            group_language=group.language if group else None,
            case_ref=case_ref,
            appeal_ref=appeal_ref,
            text=open_text(key, _TABLE, "text", row.id, row.text_enc) or "",
            reason=open_text(key, _TABLE, "reason", row.id, row.reason_enc),
            files=len(open_json(key, _TABLE, "files", row.id, row.files_enc))
            if row.files_enc
            else 0,
            created_at=row.created_at,
        )

"""Signatures in batches: many ``/sign`` messages settled with a few statements.

In the first minutes after an appeal goes out, thousands of member
organisations sign at once. Signed one turn at a time, each signature costs
about twenty statements (the group, the signer's organisations, the appeal,
the organisation, the existing signature, the insert, the audit head and
entry, the confirmation and its key). ``sign_many`` settles a batch of
requests with one statement per kind instead, set-based, inside the
caller's unit of work, so the batch commits (or rolls back) as one.

It settles only the ordinary case: the organisation is found without doubt
and the appeal is open to it. Anything else (no organisation, several, an
unknown, draft or closed appeal, an individual where organisations only
may sign) comes back as ``None`` and the caller runs the full turn, whose
answers and checks stay the only ones. The rules are those of
``Appeals.sign`` and ``handlers.members._signer_organisation``; the tests
sign the same way through both paths and compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Account as AccountRow
from storage.models import Appeal as AppealRow
from storage.models import Contact, Signature
from storage.models import MemberGroup as GroupRow
from storage.models import Organisation as OrgRow
from storage.records import AppealState, MemberKind
from storage.repos.audit import Entry, append_entries
from storage.repos.base import Repository, open_text
from storage.types import new_id

_SIGNATURES: Table = Signature.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class SignRequest:
    ref: str
    signer: str
    """The address of the person who signs."""
    group: str | None = None
    """The address of the chat it was sent in: a registered member group signs
    for its organisation (even a Matrix room of one person and the bot)."""
    wanted: str | None = None
    """The organisation's name, when the signer named one."""


@dataclass(frozen=True, slots=True)
class Signed:
    organisation: str
    """The organisation's name."""
    new: bool
    """False: it had signed already."""
    language: str | None
    """The signer's language, if their account has one."""


@dataclass(slots=True)
class _Org:
    row: OrgRow
    name: str


class Signatures(Repository):
    async def sign_many(self, requests: Sequence[SignRequest]) -> list[Signed | None]:
        """Sign in one go, in order; ``None`` where the full turn must decide."""
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            groups = await self._groups(session, requests)
            orgs = await self._organisations(session, requests, groups)
            appeals = await self._open_appeals(session, {r.ref for r in requests})
            chosen: list[tuple[AppealRow, _Org, GroupRow | None] | None] = []
            for request in requests:
                group = groups.get(request.group) if request.group else None
                org = self._organisation_of(request, group, orgs)
                appeal = appeals.get(request.ref)
                if org is None or appeal is None or not org.row.active:
                    chosen.append(None)
                elif org.row.kind == MemberKind.INDIVIDUAL and not appeal.allow_individuals:
                    chosen.append(None)
                else:
                    chosen.append((appeal, org, group))
            signed = await self._signed(session, [c for c in chosen if c is not None])
            languages = await self._languages(session, [r.signer for r in requests])
            rows: list[dict[str, object]] = []
            entries: list[Entry] = []
            results: list[Signed | None] = []
            for request, choice in zip(requests, chosen, strict=True):
                if choice is None:
                    results.append(None)
                    continue
                appeal, org, group = choice
                pair = (appeal.id, org.row.id)
                new = pair not in signed
                if new:
                    signed.add(pair)
                    rows.append(
                        {
                            "id": new_id(),
                            "appeal_id": appeal.id,
                            "organisation_id": org.row.id,
                            "signer": index.pseudonym(request.signer),
                            "via_group_id": None if group is None else group.id,
                            "at": now,
                        }
                    )
                    entries.append(Entry(request.signer, "appeal.sign", appeal.ref))
                results.append(Signed(org.name, new, languages.get(request.signer)))
            if rows:
                await session.execute(insert(_SIGNATURES), rows)
                await append_entries(session, index, entries, now)
            return results

    # --------------------------------------------------------------- lookups
    async def _groups(
        self, session: AsyncSession, requests: Sequence[SignRequest]
    ) -> dict[str, GroupRow]:
        """The registered member groups the requests were sent in, by chat address."""
        index = self._vault.index
        by_hash = {index.address_hash(r.group): r.group for r in requests if r.group}
        if not by_hash:
            return {}
        rows = await session.execute(select(GroupRow).where(GroupRow.chat_hash.in_(by_hash)))
        return {by_hash[row.chat_hash]: row for row in rows.scalars()}

    async def _organisations(
        self, session: AsyncSession, requests: Sequence[SignRequest], groups: dict[str, GroupRow]
    ) -> dict[int | str, list[_Org]]:
        """Candidate organisations: ``{group id: [its organisation]}`` for groups
        bound to one, ``{signer address: [the active ones they speak for]}`` for the rest."""
        index = self._vault.index
        group_orgs = {
            g.id: g.organisation_id
            for g in groups.values()
            if g.active and g.organisation_id is not None
        }
        signers = {
            index.address_hash(r.signer): r.signer
            for r in requests
            if _group_org(r, groups) is None
        }
        rows: list[tuple[int | str, OrgRow]] = []
        if group_orgs:
            stmt = select(OrgRow).where(OrgRow.id.in_(set(group_orgs.values())))
            by_id = {row.id: row for row in (await session.execute(stmt)).scalars()}
            rows += [(g, by_id[o]) for g, o in group_orgs.items() if o in by_id]
        if signers:
            stmt2 = (
                select(Contact.address_hash, OrgRow)
                .join(OrgRow, OrgRow.id == Contact.organisation_id)
                .where(Contact.address_hash.in_(signers), OrgRow.active)
            )
            rows += [(signers[h], row) for h, row in (await session.execute(stmt2))]
        keys = await self._vault.keys(session, (row.data_key_id for _, row in rows))
        found: dict[int | str, list[_Org]] = {}
        for owner, row in rows:
            key = keys.get(row.data_key_id) if row.data_key_id is not None else None
            if key is None:  # its key was destroyed: the full turn answers
                continue
            name = open_text(key, "organisations", "name", row.id, row.name_enc) or ""
            found.setdefault(owner, []).append(_Org(row, name))
        return found

    @staticmethod
    def _organisation_of(
        request: SignRequest, group: GroupRow | None, orgs: dict[int | str, list[_Org]]
    ) -> _Org | None:
        """The one organisation that signs, as ``_signer_organisation`` decides it."""
        if group is not None and group.active and group.organisation_id is not None:
            bound = orgs.get(group.id)
            return bound[0] if bound else None
        candidates = orgs.get(request.signer, [])
        if request.wanted:
            wanted = request.wanted.casefold()
            candidates = [o for o in candidates if o.name.casefold() == wanted]
        return candidates[0] if len(candidates) == 1 else None

    @staticmethod
    async def _open_appeals(session: AsyncSession, refs: set[str]) -> dict[str, AppealRow]:
        """The appeals open for signatures, locked as ``Appeals.sign`` locks them."""
        stmt = (
            select(AppealRow)
            .where(AppealRow.ref.in_(refs), AppealRow.state == AppealState.SENT)
            .with_for_update()
        )
        return {row.ref: row for row in (await session.execute(stmt)).scalars()}

    @staticmethod
    async def _signed(
        session: AsyncSession, chosen: list[tuple[AppealRow, _Org, GroupRow | None]]
    ) -> set[tuple[int, int]]:
        """The (appeal, organisation) pairs among ``chosen`` that have signed already."""
        if not chosen:
            return set()
        appeal_ids = {appeal.id for appeal, _, _ in chosen}
        org_ids = {org.row.id for _, org, _ in chosen}
        stmt = select(Signature.appeal_id, Signature.organisation_id).where(
            Signature.appeal_id.in_(appeal_ids), Signature.organisation_id.in_(org_ids)
        )
        return {(a, o) for a, o in (await session.execute(stmt))}

    async def _languages(self, session: AsyncSession, signers: list[str]) -> dict[str, str | None]:
        """Each signer's language, where they have an account."""
        index = self._vault.index
        by_hash = {index.address_hash(s): s for s in signers}
        stmt = select(AccountRow.address_hash, AccountRow.language, AccountRow.language_hint).where(
            AccountRow.address_hash.in_(by_hash)
        )
        return {
            by_hash[address_hash]: language or hint
            for address_hash, language, hint in (await session.execute(stmt))
        }


def _group_org(request: SignRequest, groups: dict[str, GroupRow]) -> int | None:
    group = groups.get(request.group) if request.group else None
    if group is None or not group.active:
        return None
    return group.organisation_id

"""The member registry: organisations and individuals, their contacts and groups.

Names, contact accounts and chat ids are sealed (a member list is itself
sensitive where defending rights is dangerous); country, region, languages
and working groups stay in clear so appeals can be targeted.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import CallbackToken, Contact, Invite, OutboxMessage
from storage.models import MemberGroup as GroupRow
from storage.models import Organisation as OrgRow
from storage.records import MemberEntry, MemberGroup, MemberKind, Organisation
from storage.repos.base import Repository, open_text, rowcount, seal_text
from storage.types import new_id
from storage.vault import Vault

KINDS: tuple[str, ...] = tuple(MemberKind)
EDITABLE = ("kind", "country", "region", "languages", "working_groups")
INVITE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVITE_LENGTH = 10


def _join(values: Iterable[str]) -> str:
    return ";".join(v.strip() for v in values if v.strip())


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(";") if v)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


class Members(Repository):
    # ---------------------------------------------------------- organisations
    async def upsert_organisation(
        self,
        name: str,
        *,
        kind: str = MemberKind.ORGANISATION,
        country: str = "",
        region: str = "",
        languages: Sequence[str] = (),
        working_groups: Sequence[str] = (),
    ) -> Organisation:
        """Create the organisation, or update the one with the same name (case-insensitive)."""
        async with self._store.write() as session:
            row = await self._upsert_org(
                session,
                MemberEntry(name, kind, country, region, tuple(languages), tuple(working_groups)),
            )
            return await self._organisation(session, row)

    async def create_organisation(self, entry: MemberEntry) -> Organisation:
        """Create a new organisation; ``Conflict`` if one has that name already
        (``/member add`` never overwrites: ``update_organisation`` changes fields)."""
        async with self._store.write() as session:
            name_hash = self._vault.index.name_hash("organisation", entry.name)
            existing = await self._org_by_hash(session, name_hash)
            if existing is not None and existing.active:
                raise Conflict("organisation exists")
            row = await self._upsert_org(session, entry)
            return await self._organisation(session, row)

    async def update_organisation(
        self, organisation_id: int, changes: Mapping[str, str | Sequence[str]]
    ) -> Organisation:
        """Change only the named fields (kind, country, region, languages,
        working_groups); every other field keeps its value."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
        if changes.get("kind", MemberKind.ORGANISATION) not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        async with self._store.write() as session:
            row = await self._org(session, organisation_id)
            for field, value in changes.items():
                if isinstance(value, str):
                    setattr(row, field, value.strip())
                else:
                    setattr(row, field, _join(value))
            row.updated_at = self._store.now()
            await session.flush()
            return await self._organisation(session, row)

    async def import_members(self, entries: Sequence[MemberEntry]) -> int:
        """Upsert every entry (organisations by name) in ONE transaction: all or nothing."""
        async with self._store.write() as session:
            for entry in entries:
                org = await self._upsert_org(session, entry)
                for address in entry.contacts:
                    await self._add_contact(session, org, address)
                language = entry.languages[0] if entry.languages else "en"
                for chat in entry.groups:
                    await self._add_group(session, chat, org.id, language)
        return len(entries)

    async def export_members(self) -> list[MemberEntry]:
        """Every active organisation with its contacts and groups, decrypted, by name."""
        entries = []
        for org in await self.list_organisations():
            groups = [g.address for g in await self.groups_of(org.id) if g.active]
            entries.append(
                MemberEntry(
                    org.name,
                    org.kind,
                    org.country,
                    org.region,
                    org.languages,
                    org.working_groups,
                    tuple(sorted(await self.contacts_of(org.id))),
                    tuple(sorted(groups)),
                )
            )
        return entries

    async def _upsert_org(self, session: AsyncSession, entry: MemberEntry) -> OrgRow:
        if entry.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        now = self._store.now()
        name_hash = self._vault.index.name_hash("organisation", entry.name)
        row = await self._org_by_hash(session, name_hash)
        if row is None:
            key_id, key = await self._vault.new_key(session, now)
            org_id = new_id()
            row = OrgRow(
                id=org_id,
                name_hash=name_hash,
                name_enc=seal_text(key, "organisations", "name", org_id, entry.name.strip()),
                data_key_id=key_id,
                created_at=now,
            )
            session.add(row)
        row.kind, row.country, row.region = entry.kind, entry.country.strip(), entry.region.strip()
        row.languages, row.working_groups = _join(entry.languages), _join(entry.working_groups)
        row.active, row.updated_at = True, now
        await session.flush()
        return row

    async def organisation(self, name: str) -> Organisation | None:
        name_hash = self._vault.index.name_hash("organisation", name)
        async with self._store.read() as session:
            row = await self._org_by_hash(session, name_hash)
            return None if row is None else await self._organisation(session, row)

    async def get_organisation(self, organisation_id: int) -> Organisation:
        async with self._store.read() as session:
            return await self._organisation(session, await self._org(session, organisation_id))

    async def list_organisations(self, include_inactive: bool = False) -> list[Organisation]:
        """Every organisation, sorted by name."""
        stmt = select(OrgRow) if include_inactive else select(OrgRow).where(OrgRow.active)
        async with self._store.read() as session:
            orgs = [
                await self._organisation(session, r)
                for r in (await session.execute(stmt)).scalars()
            ]
        return sorted(orgs, key=lambda o: o.name.casefold())

    async def remove_organisation(self, name: str) -> bool:
        """Deactivate (signatures already given stay in the tallies)."""
        name_hash = self._vault.index.name_hash("organisation", name)
        async with self._store.write() as session:
            result = await session.execute(
                update(OrgRow)
                .where(OrgRow.name_hash == name_hash, OrgRow.active)
                .values(active=False, updated_at=self._store.now())
            )
            return rowcount(result) > 0

    # --------------------------------------------------------------- contacts
    async def add_contact(self, organisation_id: int, address: str) -> None:
        async with self._store.write() as session:
            await self._add_contact(session, await self._org(session, organisation_id), address)

    async def _add_contact(self, session: AsyncSession, org: OrgRow, address: str) -> None:
        address_hash = self._vault.index.address_hash(address)
        exists = await session.scalar(
            select(Contact.id).where(
                Contact.organisation_id == org.id, Contact.address_hash == address_hash
            )
        )
        if exists is not None:
            return
        key = await self._vault.key(session, org.data_key_id)
        contact_id = new_id()
        sealed = seal_text(key, "contacts", "address", contact_id, address)
        assert sealed is not None
        session.add(
            Contact(
                id=contact_id,
                organisation_id=org.id,
                address_hash=address_hash,
                address_enc=sealed,
                created_at=self._store.now(),
            )
        )

    async def remove_contact(self, organisation_id: int, address: str) -> bool:
        address_hash = self._vault.index.address_hash(address)
        async with self._store.write() as session:
            result = await session.execute(
                delete(Contact).where(
                    Contact.organisation_id == organisation_id,
                    Contact.address_hash == address_hash,
                )
            )
            return rowcount(result) > 0

    async def contacts_of(self, organisation_id: int) -> list[str]:
        async with self._store.read() as session:
            org = await self._org(session, organisation_id)
            key = await self._vault.key(session, org.data_key_id)
            rows = await session.execute(select(Contact).where(Contact.organisation_id == org.id))
            return sorted(
                open_text(key, "contacts", "address", c.id, c.address_enc) or ""
                for c in rows.scalars()
            )

    async def organisations_of(self, address: str) -> list[Organisation]:
        """The active organisations ``address`` is a registered contact of."""
        address_hash = self._vault.index.address_hash(address)
        async with self._store.read() as session:
            rows = await session.execute(
                select(OrgRow)
                .join(Contact, Contact.organisation_id == OrgRow.id)
                .where(Contact.address_hash == address_hash, OrgRow.active)
            )
            return [await self._organisation(session, r) for r in rows.scalars()]

    # ----------------------------------------------------------------- groups
    async def add_group(
        self, chat_address: str, organisation_id: int | None, language: str
    ) -> MemberGroup:
        """Register a member chat (or re-bind and re-activate it)."""
        async with self._store.write() as session:
            if organisation_id is not None:
                await self._org(session, organisation_id)
            row = await self._add_group(session, chat_address, organisation_id, language)
            return await self._group(session, row)

    async def _add_group(
        self, session: AsyncSession, chat_address: str, organisation_id: int | None, language: str
    ) -> GroupRow:
        now = self._store.now()
        chat_hash = self._vault.index.address_hash(chat_address)
        row = await self._group_by_hash(session, chat_hash)
        if row is None:
            key_id, key = await self._vault.new_key(session, now)
            group_id = new_id()
            sealed = seal_text(key, "member_groups", "chat", group_id, chat_address)
            assert sealed is not None
            row = GroupRow(
                id=group_id,
                chat_hash=chat_hash,
                chat_enc=sealed,
                data_key_id=key_id,
                muted=False,
                created_at=now,
            )
            session.add(row)
        row.organisation_id, row.language = organisation_id, language
        row.active, row.updated_at = True, now
        await session.flush()
        return row

    async def group(self, chat_address: str) -> MemberGroup | None:
        chat_hash = self._vault.index.address_hash(chat_address)
        async with self._store.read() as session:
            row = await self._group_by_hash(session, chat_hash)
            return None if row is None else await self._group(session, row)

    async def groups_of(self, organisation_id: int) -> list[MemberGroup]:
        async with self._store.read() as session:
            rows = await session.execute(
                select(GroupRow).where(GroupRow.organisation_id == organisation_id)
            )
            return [await self._group(session, r) for r in rows.scalars()]

    async def set_muted(self, chat_address: str, muted: bool) -> bool:
        return await self._set_group(chat_address, muted=muted)

    async def mark_group_inactive(self, chat_address: str) -> bool:
        """The bot was removed or blocked: stop sending there."""
        return await self._set_group(chat_address, active=False)

    async def migrate_chat(self, old_address: str, new_address: str) -> bool:
        """A chat changed its id (a Telegram group became a supergroup): follow it.

        The member group, queued messages and open buttons move to the new
        id. False if no member group had the old one.
        """
        index = self._vault.index
        old_hash, new_hash = index.address_hash(old_address), index.address_hash(new_address)
        now = self._store.now()
        async with self._store.write() as session:
            await session.execute(
                update(CallbackToken)
                .where(CallbackToken.chat_hash == old_hash)
                .values(chat_hash=new_hash)
            )
            pending = await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.destination_hash == old_hash, OutboxMessage.status == "pending"
                )
            )
            for message in pending.scalars():
                key = await self._vault.key(session, message.data_key_id)
                message.destination_hash = new_hash
                message.destination_enc = (
                    seal_text(key, "outbox", "destination", message.id, new_address) or b""
                )
            row = await self._group_by_hash(session, old_hash)
            if row is None:
                return False
            if await self._group_by_hash(session, new_hash) is not None:
                row.active, row.updated_at = False, now  # both known: keep the new one
                return True
            key = await self._vault.key(session, row.data_key_id)
            row.chat_hash = new_hash
            row.chat_enc = seal_text(key, "member_groups", "chat", row.id, new_address) or b""
            row.updated_at = now
            return True

    async def audience(
        self,
        *,
        region: str | None = None,
        language: str | None = None,
        working_group: str | None = None,
    ) -> list[MemberGroup]:
        """Active, unmuted groups of active organisations that match every given filter."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(GroupRow, OrgRow)
                .join(OrgRow, OrgRow.id == GroupRow.organisation_id)
                .where(GroupRow.active, ~GroupRow.muted, OrgRow.active)
            )
            chosen = []
            for group, org in rows:
                if region and org.region.casefold() != region.casefold():
                    continue
                if (
                    language
                    and language != group.language
                    and language not in _split(org.languages)
                ):
                    continue
                wanted = working_group.casefold() if working_group else None
                if wanted and wanted not in {w.casefold() for w in _split(org.working_groups)}:
                    continue
                chosen.append(await self._group(session, group))
            return chosen

    # ---------------------------------------------------------------- invites
    async def invite(self, organisation_id: int, ttl: timedelta) -> str:
        """A one-time code for ``/register CODE`` in the organisation's group."""
        now = self._store.now()
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        async with self._store.write() as session:
            await self._org(session, organisation_id)
            session.add(
                Invite(
                    code_hash=_code_hash(code),
                    organisation_id=organisation_id,
                    expires_at=now + ttl,
                    created_at=now,
                )
            )
        return code

    async def redeem_invite(
        self, code: str, chat_address: str, language: str
    ) -> MemberGroup | None:
        """Bind ``chat_address`` to the code's organisation; None if unknown, used or expired."""
        async with self._store.write() as session:
            invite = await session.get(Invite, _code_hash(code), with_for_update=True)
            if invite is None:
                return None
            await session.delete(invite)
            expired = invite.expires_at <= self._store.now()
            organisation_id = invite.organisation_id
        if expired:
            return None
        return await self.add_group(chat_address, organisation_id, language)

    # -------------------------------------------------------------- internals
    @staticmethod
    async def _org(session: AsyncSession, organisation_id: int) -> OrgRow:
        row = await session.get(OrgRow, organisation_id)
        if row is None:
            raise NotFound("no such organisation")
        return row

    @staticmethod
    async def _org_by_hash(session: AsyncSession, name_hash: str) -> OrgRow | None:
        stmt = select(OrgRow).where(OrgRow.name_hash == name_hash)
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def _group_by_hash(session: AsyncSession, chat_hash: str) -> GroupRow | None:
        stmt = select(GroupRow).where(GroupRow.chat_hash == chat_hash)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _organisation(self, session: AsyncSession, row: OrgRow) -> Organisation:
        key = await self._vault.key(session, row.data_key_id)
        return Organisation(
            id=row.id,
            kind=row.kind,
            name=open_text(key, "organisations", "name", row.id, row.name_enc) or "",
            country=row.country,
            region=row.region,
            languages=_split(row.languages),
            working_groups=_split(row.working_groups),
            active=row.active,
            created_at=row.created_at,
        )

    async def _group(self, session: AsyncSession, row: GroupRow) -> MemberGroup:
        return await member_group(self._vault, session, row)

    async def _set_group(self, chat_address: str, **values: bool) -> bool:
        chat_hash = self._vault.index.address_hash(chat_address)
        async with self._store.write() as session:
            result = await session.execute(
                update(GroupRow)
                .where(GroupRow.chat_hash == chat_hash)
                .values(**values, updated_at=self._store.now())
            )
            return rowcount(result) > 0


async def member_group(vault: Vault, session: AsyncSession, row: GroupRow) -> MemberGroup:
    """A member group's record, its chat address opened with the group's data key
    (also what the appeal recipients' list reads)."""
    key = await vault.key(session, row.data_key_id)
    return MemberGroup(
        id=row.id,
        address=open_text(key, "member_groups", "chat", row.id, row.chat_enc) or "",
        organisation_id=row.organisation_id,
        language=row.language,
        active=row.active,
        muted=row.muted,
    )

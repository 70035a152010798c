"""What a member group chose to receive beyond its organisation's profile:
appeals for a region, a working group or a language (issue 16).

Values are kept casefolded, in clear like the registry's targeting fields
(a region or a working group names no one); the group's chat stays sealed
in ``member_groups``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import MemberGroup as GroupRow
from storage.models import Organisation as OrgRow
from storage.models import Subscription
from storage.records import MemberGroup
from storage.repos.audit import append_entry
from storage.repos.base import Repository, open_text, rowcount
from storage.types import new_id

KEYS = ("region", "group", "language")


def _clean(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    cleaned = []
    for key, value in pairs:
        if key not in KEYS:
            raise ValueError(f"unknown subscription key {key!r}")
        folded = " ".join(value.split()).casefold()
        if folded and (key, folded) not in cleaned:
            cleaned.append((key, folded))
    return cleaned


class Subscriptions(Repository):
    async def subscribe(
        self, chat_address: str, actor: str, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Add subscriptions to a registered group (``NotFound`` otherwise); returns all of them."""
        wanted = _clean(pairs)
        now = self._store.now()
        async with self._store.write() as session:
            group = await self._group_row(session, chat_address)
            have = await self._pairs(session, group.id)
            for key, value in wanted:
                if (key, value) not in have:
                    session.add(
                        Subscription(
                            id=new_id(), group_id=group.id, key=key, value=value, created_at=now
                        )
                    )
                    have.append((key, value))
            await append_entry(
                session, self._vault.index, actor, "group.subscribe", None, None, now
            )
            return sorted(have)

    async def unsubscribe(
        self, chat_address: str, actor: str, pairs: Sequence[tuple[str, str]] | None
    ) -> int:
        """Remove the given subscriptions (all of them for None); how many were removed."""
        now = self._store.now()
        async with self._store.write() as session:
            group = await self._group_row(session, chat_address)
            stmt = delete(Subscription).where(Subscription.group_id == group.id)
            removed = 0
            if pairs is None:
                removed = rowcount(await session.execute(stmt))
            else:
                for key, value in _clean(pairs):
                    removed += rowcount(
                        await session.execute(
                            stmt.where(Subscription.key == key, Subscription.value == value)
                        )
                    )
            await append_entry(
                session, self._vault.index, actor, "group.unsubscribe", None, None, now
            )
            return removed

    async def of(self, chat_address: str) -> list[tuple[str, str]]:
        async with self._store.read() as session:
            group = await self._group_row(session, chat_address)
            return sorted(await self._pairs(session, group.id))

    async def subscribers(
        self, *, region: str | None, working_group: str | None, language: str | None
    ) -> list[MemberGroup]:
        """Active, unmuted groups (of active organisations, if bound to one) that
        subscribed to any of the given targets."""
        wanted = [
            (key, value.casefold())
            for key, value in (("region", region), ("group", working_group), ("language", language))
            if value
        ]
        if not wanted:
            return []
        async with self._store.read() as session:
            rows = await session.execute(
                select(GroupRow, Subscription.key, Subscription.value, OrgRow.active)
                .join(Subscription, Subscription.group_id == GroupRow.id)
                .outerjoin(OrgRow, OrgRow.id == GroupRow.organisation_id)
                .where(GroupRow.active, ~GroupRow.muted)
            )
            chosen: dict[int, MemberGroup] = {}
            for group, key, value, org_active in rows:
                if (key, value) not in wanted or org_active is False or group.id in chosen:
                    continue
                vault_key = await self._vault.key(session, group.data_key_id)
                chosen[group.id] = MemberGroup(
                    id=group.id,
                    address=open_text(vault_key, "member_groups", "chat", group.id, group.chat_enc)
                    or "",
                    organisation_id=group.organisation_id,
                    language=group.language,
                    active=group.active,
                    muted=group.muted,
                )
            return list(chosen.values())

    # -------------------------------------------------------------- internals
    async def _group_row(self, session: AsyncSession, chat_address: str) -> GroupRow:
        chat_hash = self._vault.index.address_hash(chat_address)
        row = (
            await session.execute(select(GroupRow).where(GroupRow.chat_hash == chat_hash))
        ).scalar_one_or_none()
        if row is None or not row.active:
            raise NotFound("not a registered member group")
        return row

    @staticmethod
    async def _pairs(session: AsyncSession, group_id: int) -> list[tuple[str, str]]:
        rows = await session.execute(
            select(Subscription.key, Subscription.value).where(Subscription.group_id == group_id)
        )
        return [(k, v) for k, v in rows]

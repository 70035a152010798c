"""The advisory group as changed in chat (``db.advisors``), two-person rule.

The config's advisor list seeds the group; each change made in chat is a
row here: first *proposed* by one advisor, then *in force* once a second,
different advisor proposes the same change. Every step is audited in the
same transaction, so what the bot announces is what is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from storage.models import AdvisorChange
from storage.repos.audit import append_entry
from storage.repos.base import Repository, open_text, seal_text
from storage.types import new_id

_TABLE = "advisor_changes"


class Change(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class Outcome(StrEnum):
    PROPOSED = "proposed"  # waiting for a second advisor
    REPEATED = "repeated"  # the same advisor proposed it again: still waiting
    DONE = "done"  # a second advisor confirmed: in force


@dataclass(frozen=True)
class RosterEntry:
    address: str
    state: str  # proposed_add | proposed_remove | added | removed

    @property
    def in_force(self) -> Change | None:
        return {"added": Change.ADD, "removed": Change.REMOVE}.get(self.state)


class Advisors(Repository):
    async def roster(self) -> list[RosterEntry]:
        """Every change made in chat, proposed or in force."""
        async with self._store.read() as session:
            rows = (await session.execute(select(AdvisorChange))).scalars().all()
            entries = []
            for row in rows:
                key = await self._vault.key(session, row.data_key_id)
                address = open_text(key, _TABLE, "address", row.id, row.address_enc) or ""
                entries.append(RosterEntry(address, row.state))
            return entries

    async def propose(self, address: str, change: Change, actor: str) -> Outcome:
        """``actor`` proposes ``change`` for ``address``; a second advisor's proposal confirms."""
        index = self._vault.index
        address_hash, actor_hash = index.address_hash(address), index.address_hash(actor)
        proposed = f"proposed_{change.value}"
        now = self._store.now()
        async with self._store.write() as session:
            row = (
                await session.execute(
                    select(AdvisorChange)
                    .where(AdvisorChange.address_hash == address_hash)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is not None and row.state == proposed:
                if row.proposer_hash == actor_hash:
                    return Outcome.REPEATED
                row.state = "added" if change is Change.ADD else "removed"
                row.proposer_hash, row.updated_at = None, now
                await append_entry(
                    session, index, actor, f"advisor.{change.value}", None, None, now
                )
                return Outcome.DONE
            if row is None:
                key_id, key = await self._vault.new_key(session, now)
                row_id = new_id()
                row = AdvisorChange(
                    id=row_id,
                    address_hash=address_hash,
                    address_enc=seal_text(key, _TABLE, "address", row_id, address) or b"",
                    data_key_id=key_id,
                )
                session.add(row)
            row.state, row.proposer_hash, row.updated_at = proposed, actor_hash, now
            await append_entry(
                session, index, actor, f"advisor.propose_{change.value}", None, None, now
            )
            return Outcome.PROPOSED

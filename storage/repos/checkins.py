"""Safety check-ins (handlers/checkins.py drives them through deadlines).

The duress word is stored as a keyed hash bound to the series' id, so a
copy of the database does not reveal it and the same word in two series
hashes differently.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Case as CaseRow
from storage.models import Checkin as CheckinRow
from storage.records import LIVE_CHECKIN_STATES, Checkin, CheckinState
from storage.repos.audit import append_entry
from storage.repos.base import Repository
from storage.repos.casework import case_id_of, case_ref_of
from storage.types import new_id

_LIVE = [state.value for state in LIVE_CHECKIN_STATES]
_CHECKINS: Table = CheckinRow.__table__  # type: ignore[assignment]
_CASES: Table = CaseRow.__table__  # type: ignore[assignment]
_LIVE_OF = (
    select(_CHECKINS, _CASES.c.ref)
    .join(_CASES, _CASES.c.id == _CHECKINS.c.case_id)
    .where(_CHECKINS.c.account_id == bindparam("account_id"), _CHECKINS.c.state.in_(_LIVE))
    .order_by(_CHECKINS.c.created_at, _CHECKINS.c.id)
)
"""A person's live series: asked on every private turn, so built once, on the
tables (a Core row has the same attributes, without the ORM's loading)."""
MISSED = "checkin.missed"  # the audit action of each miss (counted by storage/repos/health.py)


def _record(row: CheckinRow | Row[Any], ref: str) -> Checkin:
    return Checkin(
        id=row.id,
        account_id=row.account_id,
        case_ref=ref,
        state=row.state,
        proposed_by=row.proposed_by,
        interval=timedelta(seconds=row.interval_s),
        grace=timedelta(seconds=row.grace_s),
        ends_at=row.ends_at,
        asked_at=row.asked_at,
        last_answer_at=row.last_answer_at,
        missed_at=row.missed_at,
        has_duress_word=row.duress_hash is not None,
        created_at=row.created_at,
    )


class Checkins(Repository):
    def _duress_hash(self, checkin_id: int, word: str) -> str:
        return self._vault.index.name_hash(f"duress:{checkin_id}", word)

    async def _rows(self, session: AsyncSession, *where: object) -> list[Checkin]:
        rows = await session.execute(
            select(CheckinRow, CaseRow.ref)
            .join(CaseRow, CaseRow.id == CheckinRow.case_id)
            .where(*where)  # type: ignore[arg-type]
            .order_by(CheckinRow.created_at, CheckinRow.id)
        )
        return [_record(row, ref) for row, ref in rows.all()]

    async def start(
        self,
        account_id: int,
        case_ref: str,
        *,
        proposed_by: str,
        interval: timedelta,
        length: timedelta,
        grace: timedelta,
    ) -> tuple[Checkin, list[int]]:
        """A new series for the case; any live series of the case is stopped.

        Returns the series and the ids of the series it replaced (their
        deadlines are the caller's to cancel).
        """
        now = self._store.now()
        async with self._store.write() as session:
            case_id = await case_id_of(session, case_ref)
            old = (
                await session.execute(
                    select(CheckinRow).where(
                        CheckinRow.case_id == case_id, CheckinRow.state.in_(_LIVE)
                    )
                )
            ).scalars()
            replaced = []
            for row in old:
                row.state, row.updated_at = CheckinState.STOPPED.value, now
                replaced.append(row.id)
            state = CheckinState.PROPOSED if proposed_by == "advisor" else CheckinState.WORD
            row = CheckinRow(
                id=new_id(),
                account_id=account_id,
                case_id=case_id,
                state=state.value,
                proposed_by=proposed_by,
                interval_s=int(interval.total_seconds()),
                grace_s=int(grace.total_seconds()),
                ends_at=now + length,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await append_entry(
                session, self._vault.index, proposed_by, "checkin.start", case_ref, None, now
            )
            await session.flush()
            return _record(row, case_ref), replaced

    async def get(self, checkin_id: int) -> Checkin | None:
        async with self._store.read() as session:
            found = await self._rows(session, CheckinRow.id == checkin_id)
            return found[0] if found else None

    async def live_of(self, account_id: int) -> list[Checkin]:
        """The account's series that are proposed, being set up or running."""
        async with self._store.read() as session:  # every private turn asks: built once
            rows = await session.execute(_LIVE_OF, {"account_id": account_id})
            return [_record(row, row.ref) for row in rows.all()]

    async def live_for_case(self, case_ref: str) -> list[Checkin]:
        async with self._store.read() as session:
            return await self._rows(session, CaseRow.ref == case_ref, CheckinRow.state.in_(_LIVE))

    async def activate(self, checkin_id: int, duress_word: str | None) -> Checkin:
        """Accepted and set up: the series runs, with its duress word (hashed) if any."""
        return await self._update(
            checkin_id,
            state=CheckinState.ACTIVE.value,
            duress_hash=self._duress_hash(checkin_id, duress_word) if duress_word else None,
        )

    async def set_state(self, checkin_id: int, state: CheckinState, actor: str) -> Checkin:
        checkin = await self._update(checkin_id, state=state.value)
        if state in (CheckinState.STOPPED, CheckinState.ENDED):
            await self._audit(actor, f"checkin.{state.value}", checkin.case_ref)
        return checkin

    async def asked(self, checkin_id: int) -> Checkin:
        """A question went out now (an earlier unanswered one stays the reference)."""
        checkin = await self._need(checkin_id)
        if checkin.asked_at is not None:
            return checkin
        return await self._update(checkin_id, asked_at=self._store.now())

    async def answered(self, checkin_id: int) -> Checkin:
        """The defender answered: nothing is outstanding any more. Returns the series
        as it was before (``missed_at`` tells whether an alert had gone out)."""
        before = await self._need(checkin_id)
        await self._update(
            checkin_id, asked_at=None, missed_at=None, last_answer_at=self._store.now()
        )
        return before

    async def missed(self, checkin_id: int) -> bool:
        """The grace period passed: True if this opens a new missed alert (once per miss)."""
        checkin = await self._need(checkin_id)
        if checkin.asked_at is None or checkin.missed_at is not None:
            return False
        await self._update(checkin_id, missed_at=self._store.now())
        await self._audit("system", MISSED, checkin.case_ref)
        return True

    async def is_duress(self, checkin_id: int, text: str) -> bool:
        async with self._store.read() as session:
            row = await session.get(CheckinRow, checkin_id)
            if row is None or row.duress_hash is None:
                return False
            return row.duress_hash == self._duress_hash(checkin_id, text)

    async def _need(self, checkin_id: int) -> Checkin:
        checkin = await self.get(checkin_id)
        if checkin is None:
            raise NotFound("no such check-in")
        return checkin

    async def _update(self, checkin_id: int, **values: object) -> Checkin:
        now = self._store.now()
        async with self._store.write() as session:
            row = await session.get(CheckinRow, checkin_id, with_for_update=True)
            if row is None:
                raise NotFound("no such check-in")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            ref = await case_ref_of(session, row.case_id)
            assert ref is not None
            return _record(row, ref)

    async def _audit(self, actor: str, action: str, ref: str) -> None:
        async with self._store.write() as session:
            await append_entry(
                session, self._vault.index, actor, action, ref, None, self._store.now()
            )

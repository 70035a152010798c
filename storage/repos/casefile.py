"""A case's structured record: tags, outcome, reassessments, and the statistics row.

Tags and the outcome are sealed with the case's data key like every other
field of the case. Closing writes, in the same transaction, one
de-identified row to ``case_stats`` (months, vocabulary words, counts and
minutes; see ``storage.models.CaseStat``): the retention purge deletes the
case and keeps that row, so a year's work can still be counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict
from storage.models import Appeal as AppealRow
from storage.models import Case as CaseRow
from storage.models import CaseEvent as EventRow
from storage.models import CaseStat as StatRow_
from storage.models import Signature as SignatureRow
from storage.records import CaseState, EventKind, Role
from storage.records_casework import CaseFile, StatRow, Tags
from storage.repos.audit import append_entry
from storage.repos.base import Repository, open_json, open_text, seal_json, seal_text
from storage.repos.casework import CASES, add_event, case_key, load_case, summary
from storage.types import new_id

RegionOf = Callable[[str | None], str | None]
ACTION_EVENTS = (EventKind.QUESTION.value, EventKind.REFERRED.value)
"""Events that count as the first action on a case (besides moving it to "action")."""


def _tags(key: bytes | None, row: CaseRow) -> Tags:
    if row.tags_enc is None or key is None:
        return {}
    raw = open_json(key, CASES, "tags", row.id, row.tags_enc)
    return {k: tuple(v) for k, v in raw.items()}


def month(at: datetime) -> str:
    return at.strftime("%Y-%m")


def _minutes(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else max(0, int((end - start).total_seconds() // 60))


class Casefile(Repository):
    async def get(self, ref: str) -> CaseFile:
        async with self._store.read() as session:
            row = await load_case(session, ref)
            return await self._file(session, row)

    async def _file(self, session: AsyncSession, row: CaseRow) -> CaseFile:
        key = None if row.data_key_id is None else await self._vault.key(session, row.data_key_id)
        outcome = None
        if key is not None:
            outcome = open_text(key, CASES, "outcome", row.id, row.outcome_enc)
        return CaseFile(summary(row), _tags(key, row), outcome)

    async def files(self, *, include_closed: bool, limit: int = 2000) -> list[CaseFile]:
        """Cases with their fields, oldest first (for /cases filters and /agenda)."""
        stmt = select(CaseRow)
        if not include_closed:
            stmt = stmt.where(CaseRow.state != CaseState.CLOSED.value)
        stmt = stmt.order_by(CaseRow.created_at, CaseRow.id).limit(limit)
        async with self._store.read() as session:
            rows = (await session.execute(stmt)).scalars().all()
            return [await self._file(session, row) for row in rows]

    async def set_tags(
        self,
        ref: str,
        actor: str,
        changes: Mapping[str, tuple[str, ...]],
        *,
        role: Role = Role.ADVISOR,
    ) -> Tags:
        """Replace each given key's values (an empty tuple clears the key).

        ``role`` is ``DEFENDER`` for the country the intake asked: the history
        then names no one (``actor`` is the audit's word "defender")."""
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            key = await case_key(session, self._vault, row, now)
            tags = _tags(key, row)
            for name, values in changes.items():
                if values:
                    tags[name] = tuple(values)
                else:
                    tags.pop(name, None)
            row.tags_enc = seal_json(
                key, CASES, "tags", row.id, {k: list(v) for k, v in tags.items()}
            )
            shown = ";".join(f"{k}={','.join(v)}" for k, v in sorted(changes.items()))
            add_event(
                session,
                key,
                row,
                EventKind.TAGGED,
                role,
                None if role is Role.DEFENDER else index.pseudonym(actor),
                now,
                text=shown,
            )
            # The audit entry names the keys only: the values are sealed on the case.
            await append_entry(
                session, index, actor, "case.tag", ref, ",".join(sorted(changes)), now
            )
            return tags

    async def reassess(
        self, ref: str, actor: str, risk: str, note: str | None, next_at: datetime
    ) -> None:
        """A follow-up: the risk now, an optional note, and when to look again.

        Allowed on a closed case: following up after closing is the point.
        """
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            key = await case_key(session, self._vault, row, now)
            row.followup_at = next_at
            add_event(
                session,
                key,
                row,
                EventKind.FOLLOWUP,
                Role.ADVISOR,
                index.pseudonym(actor),
                now,
                value=risk,
                text=note,
            )
            await append_entry(session, index, actor, "case.followup", ref, risk, now)

    async def close(
        self, ref: str, actor: str, outcome: str, reason: str | None, region_of: RegionOf
    ) -> StatRow:
        """Close with an outcome; write the case's statistics row in the same transaction.

        ``Conflict`` if the case is already closed. A case reopened and closed
        again replaces its earlier row, so every case counts once.
        """
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            if row.state == CaseState.CLOSED.value:
                raise Conflict("the case is already closed")
            key = await case_key(session, self._vault, row, now)
            row.state, row.closed_at = CaseState.CLOSED.value, now
            row.close_reason_enc = seal_text(key, CASES, "close_reason", row.id, reason)
            row.outcome_enc = seal_text(key, CASES, "outcome", row.id, outcome)
            add_event(
                session,
                key,
                row,
                EventKind.CLOSED,
                Role.ADVISOR,
                index.pseudonym(actor),
                now,
                text=" — ".join(part for part in (outcome, reason) if part),
            )
            stat = await self._stat_row(session, row, _tags(key, row), outcome, region_of, now)
            if row.stats_id is not None:
                await session.execute(delete(StatRow_).where(StatRow_.id == row.stats_id))
            row.stats_id = new_id()
            session.add(StatRow_(id=row.stats_id, **_columns(stat)))
            await append_entry(session, index, actor, "case.close", ref, None, now)
            return stat

    async def _stat_row(
        self,
        session: AsyncSession,
        row: CaseRow,
        tags: Tags,
        outcome: str,
        region_of: RegionOf,
        now: datetime,
    ) -> StatRow:
        events = (
            await session.execute(
                select(EventRow.kind, EventRow.value, EventRow.at).where(EventRow.case_id == row.id)
            )
        ).all()
        appeals = (
            await session.execute(
                select(AppealRow.id, AppealRow.state, AppealRow.created_at).where(
                    AppealRow.case_id == row.id
                )
            )
        ).all()
        signatures = 0
        if appeals:
            signatures = int(
                await session.scalar(
                    select(func.count())
                    .select_from(SignatureRow)
                    .where(SignatureRow.appeal_id.in_([a.id for a in appeals]))
                )
                or 0
            )
        actions = [
            e.at
            for e in events
            if e.kind in ACTION_EVENTS or (e.kind == EventKind.STATE.value and e.value == "action")
        ] + [a.created_at for a in appeals]
        country = (tags.get("country") or (None,))[0]
        relation = (tags.get("relation") or (None,))[0]
        return StatRow(
            opened_month=month(row.created_at),
            closed_month=month(now),
            country=country,
            region=region_of(country),
            threats=tuple(sorted(tags.get("threat", ()))),
            perpetrators=tuple(sorted(tags.get("perpetrator", ()))),
            profiles=tuple(sorted(tags.get("profile", ()))),
            relation=relation,
            urgency=row.urgency,
            minutes_to_ack=_minutes(row.created_at, row.acknowledged_at),
            minutes_to_action=_minutes(row.created_at, min(actions) if actions else None),
            appeals=len(appeals),
            signatures=signatures,
            referrals=sum(1 for e in events if e.kind == EventKind.REFERRED.value),
            letters=sum(1 for a in appeals if a.state in ("sent", "closed")),
            outcome=outcome,
        )


def _columns(stat: StatRow) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(stat, name) for name in StatRow.__dataclass_fields__}
    for name in ("threats", "perpetrators", "profiles"):
        values[name] = ",".join(getattr(stat, name))
    return values

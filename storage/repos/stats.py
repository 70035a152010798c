"""Reading the de-identified statistics rows (``case_stats``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from storage.models import CaseStat
from storage.records_casework import StatRow
from storage.repos.base import Repository
from storage.types import new_id


def _words(value: str) -> tuple[str, ...]:
    return tuple(word for word in value.split(",") if word)


class Stats(Repository):
    async def rows(self, first_month: str, last_month: str) -> list[StatRow]:
        """Rows of the cases opened from ``first_month`` to ``last_month`` (YYYY-MM, inclusive)."""
        # Plain rows, not ORM objects: a decade of a large network is 100,000 rows.
        columns = [getattr(CaseStat, name) for name in StatRow.__dataclass_fields__]
        stmt = select(*columns).where(
            CaseStat.opened_month >= first_month, CaseStat.opened_month <= last_month
        )
        async with self._store.read() as session:
            found = (await session.execute(stmt)).all()
        return [
            StatRow(
                opened_month=row.opened_month,
                closed_month=row.closed_month,
                country=row.country,
                region=row.region,
                threats=_words(row.threats),
                perpetrators=_words(row.perpetrators),
                profiles=_words(row.profiles),
                relation=row.relation,
                urgency=row.urgency,
                minutes_to_ack=row.minutes_to_ack,
                minutes_to_action=row.minutes_to_action,
                appeals=row.appeals,
                signatures=row.signatures,
                referrals=row.referrals,
                letters=row.letters,
                outcome=row.outcome,
            )
            for row in found
        ]

    async def count(self) -> int:
        async with self._store.read() as session:
            return int(await session.scalar(select(func.count()).select_from(CaseStat)) or 0)

    async def add_rows(self, rows: Sequence[StatRow]) -> int:
        """Rows that did not come from a closing here: the playground's sample year,
        or figures carried over from the spreadsheet a network kept before sosbot."""
        async with self._store.write() as session:
            for row in rows:
                values = {name: getattr(row, name) for name in StatRow.__dataclass_fields__}
                for name in ("threats", "perpetrators", "profiles"):
                    values[name] = ",".join(values[name])
                session.add(CaseStat(id=new_id(), **values))
        return len(rows)

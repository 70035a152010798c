"""Reading the de-identified statistics rows (``case_stats``)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import CaseStat
from storage.records_casework import StatRow
from storage.repos.base import Repository


def _words(value: str) -> tuple[str, ...]:
    return tuple(word for word in value.split(",") if word)


class Stats(Repository):
    async def rows(self, first_month: str, last_month: str) -> list[StatRow]:
        """Rows of the cases opened from ``first_month`` to ``last_month`` (YYYY-MM, inclusive)."""
        stmt = select(CaseStat).where(
            CaseStat.opened_month >= first_month, CaseStat.opened_month <= last_month
        )
        async with self._store.read() as session:
            found = (await session.execute(stmt)).scalars().all()
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

"""/stats [2026|2026-Q3|2026-11]: a short summary of the period for the advisory group.

It reads only the de-identified statistics rows (cases opened in the period
that have been closed) and shows them through the same suppression as
``sosbot stats`` (``handlers.statistics``): nothing below 3 is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from handlers import statistics, vocab
from handlers.commands import Arg, CommandSpec
from handlers.turn import Turn
from storage.records_casework import StatRow

STATS_SPEC = CommandSpec("stats", (Arg("2026|2026-Q3|2026-11", optional=True),))
PERIOD_ARG = STATS_SPEC.args[0].name
_PERIOD = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{2})))?$", re.IGNORECASE)
TOP = 5


def period(text: str) -> tuple[str, str] | None:
    """``2026`` → ("2026-01", "2026-12"); ``2026-Q3`` → ("2026-07", "2026-09");
    ``2026-11`` → ("2026-11", "2026-11"); anything else → None."""
    match = _PERIOD.match(text.strip())
    if match is None:
        return None
    year, quarter, month = match.group(1), match.group(2), match.group(3)
    if quarter:
        first = (int(quarter) - 1) * 3 + 1
        return f"{year}-{first:02d}", f"{year}-{first + 2:02d}"
    if month:
        if not 1 <= int(month) <= 12:
            return None
        return f"{year}-{month}", f"{year}-{month}"
    return f"{year}-01", f"{year}-12"


def months(first: date, last: date) -> tuple[str, str]:
    return first.strftime("%Y-%m"), last.strftime("%Y-%m")


def _cells(turn: Turn, rows: list[StatRow], by: str, key: str) -> str:
    result = statistics.table(rows, by)
    shown = [
        f"{vocab.label(key, name, turn.language) if name != statistics.NOT_SET else name} {value}"
        for name, value in result.rows[:TOP]
    ]
    return " · ".join(shown) or "-"


def summary(turn: Turn, label: str, rows: list[StatRow]) -> str:
    overall = statistics.table(rows, "outcome")
    lines = [
        turn.t("Statistics {period}: cases opened in the period and closed since.", period=label),
        turn.t("Cases: {count}", count=overall.total),
    ]
    if overall.rows:
        lines += [
            turn.t("Outcomes: {cells}", cells=_cells(turn, rows, "outcome", "outcome")),
            turn.t("Threats: {cells}", cells=_cells(turn, rows, "threat", "threat")),
            turn.t("Regions: {cells}", cells=_cells(turn, rows, "region", "region")),
        ]
    measures = dict(overall.summary)
    if measures:
        lines.append(
            turn.t(
                "Median minutes to acknowledgement: {ack}; to first action: {action}.",
                ack=measures["median minutes to acknowledgement"],
                action=measures["median minutes to first action"],
            )
        )
        lines.append(
            turn.t(
                "Appeals: {appeals} · letters sent: {letters} · signatures: {signatures} · "
                "referrals: {referrals}",
                appeals=measures["appeals"],
                letters=measures["letters"],
                signatures=measures["signatures"],
                referrals=measures["referrals"],
            )
        )
    lines.append(turn.t("Counts below 3 are shown as <3, so that no defender can be singled out."))
    return "\n".join(lines)


async def post_stats(turn: Turn, args: Mapping[str, Any]) -> None:
    text = args.get(PERIOD_ARG) or str(turn.services.clock.now().year)
    found = period(text)
    if found is None:
        await turn.say(turn.t("Usage: {usage}", usage=STATS_SPEC.usage()))
        return
    rows = await turn.services.db.stats.rows(*found)
    await turn.services.db.audit.append(str(turn.msg.sender), "stats.show", None, text)
    await turn.say(summary(turn, text.upper(), rows))

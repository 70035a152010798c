"""Counting the de-identified statistics rows, with small cells suppressed.

A published table must not single out a defender. So:

1. A count below ``THRESHOLD`` (3) is shown as "<3" (primary suppression).
2. Where the cells of a table add up to a shown total (month, country,
   region, outcome: one value per case), the hidden cells could be worked
   out by subtraction. Further cells are then hidden as "≥3"
   (complementary suppression), smallest first, until no hidden cell can
   be pinned to one value from the total and the shown cells.
3. By country, the same holds within each region (the by-region table
   publishes the region's total).
4. A total below 3 is shown as "<3" with no breakdown at all: listing the
   categories of one or two cases would name them. A breakdown whose cells
   can be worked out even when all are hidden (two cells of 2 in a total
   of 4) is withheld too.

Threat, perpetrator and profile tables count a case once per value (a case
may have several or none), so their cells do not add up to the total and
only rule 1 applies. What no table can prevent: subtracting two tables of
overlapping periods (a year minus its first three quarters); the
coordinator publishes one period per report.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.records_casework import StatRow

THRESHOLD = 3
SMALL = "<3"
HIDDEN = "≥3"
NOT_SET = "(not set)"
DIMENSIONS = ("month", "country", "region", "threat", "perpetrator", "profile", "outcome")
ADDITIVE = frozenset({"month", "country", "region", "outcome"})


def _values(row: StatRow, by: str) -> tuple[str, ...]:
    value: str | tuple[str, ...] | None = {
        "month": row.opened_month,
        "country": row.country,
        "region": row.region,
        "threat": row.threats,
        "perpetrator": row.perpetrators,
        "profile": row.profiles,
        "outcome": row.outcome,
    }[by]
    if isinstance(value, tuple):
        return value or (NOT_SET,)
    return (value or NOT_SET,)


def _determined(hidden: Sequence[tuple[int, int]], hidden_sum: int) -> bool:
    """Whether some hidden cell has only one value consistent with the shown numbers.

    Each hidden cell is known to lie in [lo, hi]; together they add up to
    ``hidden_sum`` (the total minus the shown cells).
    """
    for i, (lo, hi) in enumerate(hidden):
        others_lo = sum(h[0] for j, h in enumerate(hidden) if j != i)
        others_hi = sum(h[1] for j, h in enumerate(hidden) if j != i)
        feasible = [
            v
            for v in range(lo, min(hi, hidden_sum) + 1)
            if others_lo <= hidden_sum - v <= others_hi
        ]
        if len(feasible) <= 1:
            return True
    return False


def protect(
    cells: dict[str, int], total: int | None, shown: dict[str, str] | None = None
) -> dict[str, str]:
    """The shown value of each cell; ``total`` when the cells add up to it.

    ``shown`` carries hiding decided by another rule; this only adds to it.
    """
    shown = dict(shown or {})
    for key, value in cells.items():
        if shown.get(key) not in (SMALL, HIDDEN):
            shown[key] = SMALL if 0 < value < THRESHOLD else str(value)
    if total is None or not any(v == SMALL for v in shown.values()):
        return shown
    while pinned(cells, shown, total):
        candidates = sorted((v, k) for k, v in cells.items() if shown[k] not in (SMALL, HIDDEN))
        if not candidates:  # everything is hidden already: nothing more can be done
            return shown
        shown[candidates[0][1]] = HIDDEN
    return shown


def pinned(cells: dict[str, int], shown: dict[str, str], total: int) -> bool:
    """Whether a hidden cell can be worked out from the shown cells and the total."""
    hidden = [k for k, v in shown.items() if v in (SMALL, HIDDEN)]
    bounds = [(1, THRESHOLD - 1) if shown[k] == SMALL else (THRESHOLD, total) for k in hidden]
    return _determined(bounds, sum(cells[k] for k in hidden))


@dataclass(frozen=True)
class Table:
    by: str
    total: str
    rows: list[tuple[str, str]]  # (category, shown count)
    summary: list[tuple[str, str]]  # (measure, shown value)


def _count(value: int) -> str:
    return SMALL if 0 < value < THRESHOLD else str(value)


def _median(values: Iterable[int | None]) -> str:
    present = [v for v in values if v is not None]
    if len(present) < THRESHOLD:
        return "-"
    return str(int(statistics.median(present)))


def table(rows: Sequence[StatRow], by: str) -> Table:
    """Cases by ``by``, protected; the summary measures of the whole period."""
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")
    total = len(rows)
    summary = [
        ("median minutes to acknowledgement", _median(r.minutes_to_ack for r in rows)),
        ("median minutes to first action", _median(r.minutes_to_action for r in rows)),
        *(
            (name, _count(sum(getattr(r, name) for r in rows)))
            for name in ("appeals", "signatures", "referrals", "letters")
        ),
    ]
    if total < THRESHOLD:
        return Table(by, _count(total), [], summary if total == 0 else [])
    cells: Counter[str] = Counter()
    for row in rows:
        cells.update(_values(row, by))
    shown = protect(dict(cells), total if by in ADDITIVE else None)
    if by == "country":
        shown = _within_regions(rows, cells, shown)
    if by in ADDITIVE and pinned(dict(cells), shown, total):
        # Even with every cell hidden the total gives them away (2 + 2 = 4):
        # the breakdown is withheld, the total stays.
        return Table(by, str(total), [], summary)
    order = sorted(cells) if by == "month" else sorted(cells, key=lambda k: (-cells[k], k))
    return Table(by, str(total), [(k, shown[k]) for k in order], summary)


def _within_regions(
    rows: Sequence[StatRow], cells: Counter[str], shown: dict[str, str]
) -> dict[str, str]:
    """Rule 3: each region's countries add up to the region's published total.

    Hiding more in one region may pin a cell of the whole table again, so
    both rules run until neither hides anything more.
    """
    regions: dict[str, set[str]] = {}
    for row in rows:
        regions.setdefault(row.region or NOT_SET, set()).add(row.country or NOT_SET)
    total = sum(cells.values())
    while True:
        before = dict(shown)
        for countries in regions.values():
            sub = {c: cells[c] for c in countries}
            if sum(sub.values()) >= THRESHOLD:  # a "<3" region total gives nothing to subtract
                shown.update(protect(sub, sum(sub.values()), {c: shown[c] for c in countries}))
        shown = protect(dict(cells), total, shown)
        if shown == before:
            return shown


def render_table(result: Table, fmt: str) -> str:
    if fmt == "json":
        return (
            json.dumps(
                {
                    "by": result.by,
                    "total": result.total,
                    "rows": [{"category": k, "cases": v} for k, v in result.rows],
                    "summary": dict(result.summary),
                    "suppression": f"counts below {THRESHOLD} are shown as {SMALL!r}; "
                    f"{HIDDEN!r} hides a cell so that they cannot be worked out",
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([result.by, "cases"])
        writer.writerows(result.rows)
        writer.writerow(["total", result.total])
        for name, value in result.summary:
            writer.writerow([name, value])
        return out.getvalue()
    width = max([len(result.by), len("total"), *(len(k) for k, _ in result.rows)])
    lines = [f"{result.by:<{width}}  cases"]
    lines += [f"{k:<{width}}  {v:>5}" for k, v in result.rows]
    lines.append(f"{'total':<{width}}  {result.total:>5}")
    if result.summary:
        lines.append("")
        lines += [f"{name}: {value}" for name, value in result.summary]
    return "\n".join(lines) + "\n"

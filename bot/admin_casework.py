"""``sosbot partners import|export`` and ``sosbot stats``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.admin import EXIT_ERROR, EXIT_OK, open_database, parsed_or_said, with_database
from bot.config import Config
from handlers import statistics
from handlers.partners_csv import parse_csv, to_csv
from handlers.stats import months


async def partners_import(config: Config, environ: Mapping[str, str], text: str) -> int:
    """Import a partner CSV: every row checked first; one bad row imports nothing."""
    entries = parsed_or_said("partners import", parse_csv, text)
    if entries is None:
        return EXIT_ERROR
    count = await with_database(config, environ, lambda db: db.partners.import_partners(entries))
    print(f"partners import: {count} partners imported or updated")
    return EXIT_OK


async def partners_export(config: Config, environ: Mapping[str, str], out: TextIO) -> int:
    entries = await with_database(config, environ, lambda db: db.partners.export_partners())
    out.write(to_csv(entries))
    return EXIT_OK


async def stats(
    config: Config,
    environ: Mapping[str, str],
    first: date,
    last: date,
    by: str,
    fmt: str,
    chart: Path | None,
    out: TextIO,
) -> int:
    """Print the protected totals of the cases opened from ``first`` to ``last``.

    Statistics rows hold months, not days, so the dates are taken by month.
    """
    if last < first:
        print("stats: --to is before --from", file=sys.stderr)
        return EXIT_ERROR
    period = months(first, last)
    db = await open_database(config, environ)
    try:
        rows = await db.stats.rows(*period)
        await db.audit.append("system", "stats.export", None, f"{period[0]}..{period[1]} by {by}")
    finally:
        await db.close()
    out.write(statistics.render_table(statistics.table(rows, by), fmt))
    if chart is not None:
        from bot.reports import ChartUnavailable, draw

        try:
            draw(
                statistics.table(rows, "month"),
                statistics.table(rows, "threat"),
                chart,
                f"{period[0]} to {period[1]}",
            )
        except ChartUnavailable as exc:
            print(f"stats: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"stats: chart written to {chart}", file=sys.stderr)
    return EXIT_OK

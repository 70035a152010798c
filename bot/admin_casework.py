"""``sosbot partners import|export`` and ``sosbot stats``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.admin import EXIT_ERROR, EXIT_OK, import_file, open_database, with_database
from bot.config import Config
from handlers import statistics
from handlers.partners_csv import parse_csv, to_csv
from handlers.stats import months
from storage import Database
from storage.records_casework import PartnerEntry


async def partners_import(config: Config, environ: Mapping[str, str], text: str) -> int:
    """Import a partner CSV: every row checked first; one bad row imports nothing."""

    async def store(db: Database, entries: list[PartnerEntry]) -> int:
        return await db.partners.import_partners(entries)

    return await import_file(config, environ, text, "partners import", parse_csv, store, "partners")


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

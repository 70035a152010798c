"""A year of casework: 500 synthetic cases through the handlers, closed and purged;
``sosbot stats`` still counts them, exactly, with small cells suppressed, and the
statistics table, read raw, holds nothing but months, vocabulary words and numbers.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.admin_casework import stats
from bot.config import parse_config
from handlers import vocab
from handlers.messages import Address, Platform
from storage.records import Urgency
from tests.casework.conftest import CASEWORK
from tests.harness.bot import ALICE, TRIAGE, Harness
from tests.storage.conftest import raw

CASES = 500
# Country weights: GT has 2 cases and PH 1 (small cells), some cases are not tagged with one.
COUNTRIES = ["CO"] * 200 + ["MX"] * 120 + ["KE"] * 150 + ["GT"] * 2 + ["PH"] * 1 + [None] * 27
THREATS = ["death_threat", "surveillance", "criminalisation", "raid", "harassment"]
OUTCOMES = ["resolved", "risk_reduced", "ongoing_risk", "worsened", "unknown"]


@dataclass
class Plan:
    opened: datetime
    country: str | None
    threats: tuple[str, ...]
    outcome: str


def plans() -> list[Plan]:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    result = []
    for i in range(CASES):
        threats = (THREATS[i % 5],) if i % 3 else (THREATS[i % 5], THREATS[(i + 1) % 5])
        # "sexual_violence" twice in the year: a small cell of a multi-valued table.
        if i in (7, 300):
            threats = ("sexual_violence",)
        outcome = "withdrawn" if i in (11, 250) else OUTCOMES[i % 5]
        opened = start + timedelta(days=i * 350 // CASES, hours=i % 7)
        result.append(Plan(opened, COUNTRIES[(i * 7) % CASES], threats, outcome))
    return result


async def run_year(bot: Harness) -> list[Plan]:
    planned = plans()
    # The flood limit runs on real time: here an advisor types a command every 3 seconds.
    ticks = iter(range(0, 10_000_000, 3))
    bot.router.limiter.clock = lambda: float(next(ticks))
    for i, plan in enumerate(planned):
        # Time moves without the scheduler in between (digests would only slow the
        # year down); the escalation never comes due, each case is acknowledged first.
        gap = plan.opened - bot.clock.now()
        if gap > timedelta(0):
            bot.clock.advance(gap)
        defender = Address(Platform.TELEGRAM, str(500_000 + i))
        await bot.send(defender, "/sos they are outside")
        ref = re.findall(r"C-[0-9A-Z]{6}", bot.matrix.to(TRIAGE)[-1].text)[0]
        bot.clock.advance(timedelta(minutes=5 + i % 10))
        await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)
        tags = [f"threat={','.join(plan.threats)}"]
        if plan.country:
            tags.append(f"country={plan.country}")
        await bot.send(ALICE, f"/tag {ref} {' '.join(tags)}", chat=TRIAGE)
        closed = await bot.send(ALICE, f"/close {ref} outcome={plan.outcome}", chat=TRIAGE)
        assert closed[-1].text.startswith(f"{ref} closed."), closed[-1].text
    return planned


def expected(counts: Counter[str]) -> dict[str, str]:
    return {k: ("<3" if v < 3 else str(v)) for k, v in counts.items()}


def check(shown: dict[str, str], counts: Counter[str]) -> None:
    """Every cell exact, "<3" below 3, or "≥3" (complementary) where it is 3 or more."""
    assert set(shown) == set(counts)
    for key, value in shown.items():
        if value == "≥3":
            assert counts[key] >= 3
        else:
            assert value == expected(counts)[key], (key, value, counts[key])


async def cli_stats(
    tmp_path: Path, url: str, by: str, chart: Path | None = None
) -> dict[str, object]:
    config = parse_config(f'[storage]\nurl = "{url}"\n', tmp_path)
    environ = {"SOSBOT_MASTER_KEY": base64.b64encode(b"k" * 32).decode()}
    out = io.StringIO()
    code = await stats(
        config, environ, date(2026, 1, 1), date(2026, 12, 31), by, "json", chart, out
    )
    assert code == 0
    return dict(json.loads(out.getvalue()))


# 2,000 turns through the whole bot: on SQLite only, to keep the suite within its
# time (about 7 minutes on PostgreSQL here). Every casework command, the statistics
# rows and their purge run on PostgreSQL too (test_casework.py, test_statistics.py).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.timeout(900)
async def test_a_year_of_cases_survives_the_purge_as_exact_suppressed_counts(
    bot: Harness, db_url: str, tmp_path: Path
) -> None:
    planned = await run_year(bot)
    await bot.advance(timedelta(days=200))  # past the retention of every closed case
    async with raw(db_url) as conn:
        assert (await conn.execute(text("SELECT count(*) FROM cases"))).scalar() == 0
        assert (await conn.execute(text("SELECT count(*) FROM case_stats"))).scalar() == CASES

    months = Counter(p.opened.strftime("%Y-%m") for p in planned)
    countries = Counter(p.country or "(not set)" for p in planned)
    regions = Counter(CASEWORK.region(p.country) or "(not set)" for p in planned)
    threats = Counter(t for p in planned for t in p.threats)
    outcomes = Counter(p.outcome for p in planned)
    for by, counts in (
        ("month", months),
        ("country", countries),
        ("region", regions),
        ("threat", threats),
        ("outcome", outcomes),
    ):
        result = await cli_stats(tmp_path, db_url, by)
        assert result["total"] == str(CASES)
        rows = result["rows"]
        assert isinstance(rows, list)
        check({r["category"]: r["cases"] for r in rows}, counts)
    by_country = {
        r["category"]: r["cases"] for r in (await cli_stats(tmp_path, db_url, "country"))["rows"]
    }  # type: ignore[union-attr]
    assert by_country["GT"] == "<3" and by_country["PH"] == "<3" and by_country["CO"] == "200"
    by_threat = {
        r["category"]: r["cases"] for r in (await cli_stats(tmp_path, db_url, "threat"))["rows"]
    }  # type: ignore[union-attr]
    assert by_threat["sexual_violence"] == "<3"
    by_outcome = {
        r["category"]: r["cases"] for r in (await cli_stats(tmp_path, db_url, "outcome"))["rows"]
    }  # type: ignore[union-attr]
    assert by_outcome["withdrawn"] == "<3" and "≥3" in by_outcome.values()

    chart = tmp_path / "annual-report.png"
    await cli_stats(tmp_path, db_url, "month", chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000

    # /stats in the room reads the same rows.
    answer = (await bot.send(ALICE, "/stats 2026", chat=TRIAGE))[-1].text
    assert "Cases: 500" in answer and "Counts below 3 are shown as <3" in answer
    quarter = (await bot.send(ALICE, "/stats 2026-q1", chat=TRIAGE))[-1].text
    assert f"Cases: {sum(v for k, v in months.items() if k <= '2026-03')}" in quarter

    await scan_statistics_table(db_url)


MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
REFERENCE = re.compile(r"\b[CAR]-?[0-9A-HJKMNP-TV-Z]{6}\b")  # as stored: upper case
COLUMNS = {
    "id", "opened_month", "closed_month", "country", "region", "threats", "perpetrators",
    "profiles", "relation", "urgency", "minutes_to_ack", "minutes_to_action", "appeals",
    "signatures", "referrals", "letters", "outcome",
}  # fmt: skip


async def scan_statistics_table(url: str) -> None:
    """Read case_stats behind storage's back: only months, vocabulary words and numbers."""
    words = {
        "threats": set(vocab.THREATS),
        "perpetrators": set(vocab.PERPETRATORS),
        "profiles": set(vocab.PROFILES),
    }
    async with raw(url) as conn:
        result = await conn.execute(text("SELECT * FROM case_stats"))
        assert set(result.keys()) == COLUMNS, "no column may link a row to a case"
        rows = result.mappings().all()
    assert len(rows) == CASES
    ids = set()
    for row in rows:
        ids.add(row["id"])
        assert MONTH.match(row["opened_month"]) and MONTH.match(row["closed_month"])
        assert row["country"] is None or row["country"] in vocab.countries()
        assert row["region"] in {None, "other", *CASEWORK.regions.values()}
        for column, allowed in words.items():
            assert set(filter(None, row[column].split(","))) <= allowed
        assert row["relation"] is None or row["relation"] in vocab.RELATIONS
        assert row["urgency"] in set(Urgency) and row["outcome"] in vocab.OUTCOMES
        for column in ("minutes_to_ack", "minutes_to_action", "appeals", "signatures"):
            assert row[column] is None or isinstance(row[column], int)
        for value in row.values():
            if isinstance(value, str):
                assert not REFERENCE.search(value), value
                assert not re.search(r"\d{4}-\d{2}-\d{2}", value), "no day-level date"
                assert "outside" not in value, "no report text"
    assert len(ids) == CASES and max(ids) > 10 * CASES, "ids are random, not a sequence"

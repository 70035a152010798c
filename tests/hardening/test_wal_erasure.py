"""Erased reports cannot be read back from the SQLite ``-wal`` with the master key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from handlers.messages import Address, Platform
from tests.handlers.test_intake import ANSWERS, full_report
from tests.hardening.wal import commit_offsets, recoverable_texts
from tests.harness.bot import ALICE, TRIAGE, Harness

ANA = Address(Platform.TELEGRAM, "7301")
KEY = b"k" * 32
SECRET = ANSWERS["en"][0]


async def test_the_attacker_reads_a_live_report_from_the_wal(bot: Harness, tmp_path: Path) -> None:
    """The attacker works: before any erasure the report is in the -wal."""
    await full_report(bot, ANA, "en")
    assert commit_offsets((tmp_path / "sosbot.db-wal").read_bytes())
    assert SECRET in await recoverable_texts(tmp_path / "sosbot.db", KEY, tmp_path / "attack")


async def test_forget_leaves_nothing_readable_in_the_wal(bot: Harness, tmp_path: Path) -> None:
    await full_report(bot, ANA, "en")
    await bot.send(ANA, "/forget")
    await bot.press(ANA, "forget:yes")
    found = await recoverable_texts(tmp_path / "sosbot.db", KEY, tmp_path / "attack")
    assert not any(text in found for text in ANSWERS["en"])


async def test_retention_purge_leaves_nothing_readable_in_the_wal(
    bot: Harness, tmp_path: Path
) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/close {ref} outcome=resolved resolved", chat=TRIAGE)
    assert (await bot.db.cases.get(ref)).state == "closed"
    await bot.advance(bot.services.settings.closed_case_retention + timedelta(days=2))
    assert ref not in {c.ref for c in await bot.db.cases.list_cases("all")}
    found = await recoverable_texts(tmp_path / "sosbot.db", KEY, tmp_path / "attack")
    assert not any(text in found for text in ANSWERS["en"])


async def test_a_cancelled_draft_leaves_nothing_readable_in_the_wal(
    bot: Harness, tmp_path: Path
) -> None:
    await bot.send(ANA, "/report")
    await bot.send(ANA, "a draft never sent")
    await bot.send(ANA, "/cancel")
    found = await recoverable_texts(tmp_path / "sosbot.db", KEY, tmp_path / "attack")
    assert not any("a draft never sent" in text for text in found)


async def test_the_attacker_reads_a_live_draft_from_the_wal(bot: Harness, tmp_path: Path) -> None:
    await bot.send(ANA, "/report")
    await bot.send(ANA, "a draft in progress")
    found = await recoverable_texts(tmp_path / "sosbot.db", KEY, tmp_path / "attack")
    assert any("a draft in progress" in text for text in found)

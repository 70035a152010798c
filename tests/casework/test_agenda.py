"""/cases with filters and /agenda, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.messages import Address, Platform
from storage.records_casework import PartnerEntry
from tests.casework.reports import report
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness

ANA = Address(Platform.TELEGRAM, "7001")
LUIS = Address(Platform.TELEGRAM, "7002")
AMANI = Address(Platform.TELEGRAM, "7003")


async def say(bot: Harness, line: str, who: Address = ALICE) -> str:
    return (await bot.send(who, line, chat=TRIAGE))[-1].text


async def three_cases(bot: Harness) -> tuple[str, str, str]:
    first = await report(bot, ANA)
    second = await report(bot, LUIS)
    third = await report(bot, AMANI)
    await say(bot, f"/tag {first} country=CO threat=death_threat,surveillance")
    await say(bot, f"/tag {second} country=CO threat=raid")
    await say(bot, f"/tag {third} country=KE threat=death_threat")
    return first, second, third


async def test_cases_filters_combine(bot: Harness) -> None:
    first, second, third = await three_cases(bot)
    await say(bot, f"/claim {second}")
    await say(bot, f"/followup {third} risk=critical")

    def refs(answer: str) -> set[str]:
        return set(re.findall(r"C-[0-9A-Z]{6}", answer))

    assert refs(await say(bot, "/cases")) == {first, second, third}
    assert refs(await say(bot, "/cases country=co")) == {first, second}
    assert refs(await say(bot, "/cases state=open country=CO threat=death_threat")) == {first}
    assert refs(await say(bot, "/cases assigned=me")) == {second}
    assert refs(await say(bot, "/cases assigned=me", who=BOB)) == set()
    assert refs(await say(bot, "/cases mine")) == {second}, "the old one-word filter"
    assert await say(bot, "/cases overdue") == "No cases."
    await bot.advance(timedelta(days=2))
    assert refs(await say(bot, "/cases overdue threat=death_threat")) == {third}
    await say(bot, f"/close {first} outcome=resolved")
    assert refs(await say(bot, "/cases country=CO")) == {second}
    assert refs(await say(bot, "/cases state=closed")) == {first}
    assert refs(await say(bot, "/cases state=all country=CO")) == {first, second}
    listing = await say(bot, "/cases country=KE")
    assert "KE" in listing and "death_threat" in listing


async def test_cases_refuses_an_unknown_filter(bot: Harness) -> None:
    await three_cases(bot)
    assert (await say(bot, "/cases colour=red")).startswith("Unknown filter colour=red.")
    assert (await say(bot, "/cases assigned=@nobody")) == "@nobody is not one of the advisors."


async def test_agenda_lists_what_needs_a_decision(bot: Harness) -> None:
    first, second, third = await three_cases(bot)
    await say(bot, f"/ack {first}")
    await say(bot, f"/ack {third}")
    await bot.db.partners.import_partners([PartnerEntry("Safe Haven", ("relocation",))])
    rid = re.findall(r"R-[0-9A-Z]{6}", await say(bot, f"/refer {first} Safe Haven relocation"))[0]
    await say(bot, f"/followup {first} risk=critical")  # due in 2 days
    await say(bot, f"/followup {third} risk=high")  # due in 7 days
    appeal = re.findall(r"A-[0-9A-Z]{6}", await say(bot, f"/appeal new {first}"))[0]
    empty = await say(bot, "/agenda")
    assert empty.count("none") == 2  # no referral without news, no check-in missed yet
    await bot.advance(timedelta(days=3))  # first's follow-up passes
    await bot.advance(timedelta(days=5))  # the referral has had no news for 8 days
    agenda = await say(bot, "/agenda")
    sections = agenda.split("\n\n")
    assert sections[0].startswith("Agenda for 2026-")
    assert sections[1].startswith("Not acknowledged:") and second in sections[1]
    assert first not in sections[1]
    assert sections[2].startswith("Appeals awaiting approval:") and appeal in sections[2]
    assert "1 of 2 approvals" in sections[2] or "0 of 2 approvals" in sections[2]
    assert sections[3].startswith("Referrals without news:") and rid in sections[3]
    assert sections[4].startswith("Check-ins missed") and first in sections[4]
    assert third in sections[4], "third's reassessment (7 days) has passed as well"
    assert sections[5].startswith("Follow-ups due this week:")

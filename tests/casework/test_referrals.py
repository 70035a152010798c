"""The partner directory and referrals, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from handlers.messages import Address, Platform
from handlers.partners_csv import parse_csv, to_csv
from handlers.registry import RegistryFileError
from storage.records_casework import PartnerEntry
from tests.casework.reports import report
from tests.harness.bot import ALICE, TRIAGE, Harness

ANA = Address(Platform.TELEGRAM, "7001")
PARTNER_CHAT = Address(Platform.MATRIX, "@legal:localhost")

CSV = (
    "name,kinds,regions,languages,contact,notes\n"
    "Lawyers Collective,legal;un_mechanisms,americas,es;en,matrix:@legal:localhost,24h line\n"
    "Safe Haven,relocation,americas;africa,en,+57 300 000 0000,call first\n"
    "Legal Aid Network,legal,africa,fr,,\n"
)


def referral_ref(text: str) -> str:
    match = re.search(r"R-[0-9A-Z]{6}", text)
    assert match, text
    return match.group(0)


async def say(bot: Harness, line: str) -> str:
    return (await bot.send(ALICE, line, chat=TRIAGE))[-1].text


async def seeded(bot: Harness) -> None:
    await bot.db.partners.import_partners(parse_csv(CSV))


def test_partner_csv_round_trip_and_all_or_nothing() -> None:
    entries = parse_csv(CSV)
    assert entries[0] == PartnerEntry(
        "Lawyers Collective",
        ("legal", "un_mechanisms"),
        ("americas",),
        ("es", "en"),
        "matrix:@legal:localhost",
        "24h line",
    )
    assert parse_csv(to_csv(entries)) == entries
    bad = CSV + "Clinic,dentistry,asia,en,telegram:abc,\nLawyers Collective,legal,,en,,\n"
    with pytest.raises(RegistryFileError) as caught:
        parse_csv(bad)
    problems = [str(e) for e in caught.value.errors]
    assert any("row 4" in p and "kinds" in p and "dentistry" in p for p in problems)
    assert any("row 4" in p and "contact" in p for p in problems)
    assert any("row 5" in p and "also on row 1" in p for p in problems)
    with pytest.raises(RegistryFileError):
        parse_csv("name,kinds\nX,legal\n")  # missing columns


async def test_import_updates_by_name_and_seals_the_contact(bot: Harness) -> None:
    await seeded(bot)
    await bot.db.partners.import_partners(
        [PartnerEntry("lawyers  collective", ("legal",), (), ("en",), "", "moved")]
    )
    found = await bot.db.partners.find("Lawyers Collective")
    assert found is not None and found.notes == "moved" and found.kinds == ("legal",)
    assert len(await bot.db.partners.export_partners()) == 3


async def test_refer_opens_a_referral_and_moves_it_on(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA)
    answer = await say(bot, f"/refer {ref} Legal Aid Network legal needs a lawyer in Goma")
    rid = referral_ref(answer)
    assert f"{ref} to Legal Aid Network (legal)" in answer
    found = await bot.db.partners.get(rid)
    assert (found.state, found.kind, found.note, found.case_ref) == (
        "requested",
        "legal",
        "needs a lawyer in Goma",
        ref,
    )
    assert await say(bot, f"/referral {rid.lower()} accepted they called back") == (
        f"Referral {rid}: accepted."
    )
    assert await say(bot, f"/referral {rid} delivered") == f"Referral {rid}: delivered."
    assert await say(bot, f"/referral {rid} closed") == f"Referral {rid}: closed."
    assert await say(bot, f"/referral {rid} accepted") == f"Referral {rid} is closed."
    view = (await bot.send(ALICE, f"/case {ref}"))[-1].text
    assert f"Referral {rid}: Legal Aid Network (legal), closed" in view
    audit = [e.action for e in await bot.db.audit.entries() if e.object_ref == rid]
    assert audit == ["referral.open", "referral.state", "referral.state", "referral.state"]
    # The statistics row counts the referral.
    await say(bot, f"/close {ref} outcome=resolved")
    assert [r.referrals for r in await bot.db.stats.rows("2026-01", "2026-01")] == [1]


async def test_refer_refusals(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA)
    answer = await say(bot, f"/refer {ref} Nobody Known legal")
    assert answer.startswith("Name a partner from the directory and a kind (legal, medical,")
    assert (await say(bot, f"/refer {ref} Safe Haven teleport")).startswith("Name a partner")
    assert await say(bot, "/refer C-000000 Safe Haven relocation") == "There is no case C-000000."
    assert await say(bot, "/referral R-000000 accepted") == "There is no referral R-000000."
    assert (await say(bot, "/referral C-000000 accepted")).startswith("Usage: /referral")
    assert (await say(bot, "/referral R-000000 maybe")).startswith("Usage: /referral")
    assert await bot.db.partners.of_case(ref) == []


async def test_send_gives_the_partner_a_summary_when_consent_allows(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "trusted_partners")
    rid = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal urgent hearing"))
    await say(bot, f"/tag {ref} country=CO threat=criminalisation")
    answer = await say(bot, f"/referral {rid} send")
    assert answer == f"Summary of {rid} is on its way to Lawyers Collective."
    summary = bot.matrix.last(PARTNER_CHAT).text
    assert rid in summary and "urgent hearing" in summary and "Colombia (CO)" in summary
    case = await bot.db.cases.get(ref)
    assert case.what and case.what in summary
    assert ref not in summary, "the partner gets the referral, not the case reference"
    assert "7001" not in summary and (case.contact or "x") not in summary
    assert (await bot.db.partners.get(rid)).sent == 1


async def test_send_refusals(bot: Harness) -> None:
    await seeded(bot)
    private = await report(bot, ANA, "advisory_only")
    rid = referral_ref(await say(bot, f"/refer {private} Lawyers Collective legal"))
    assert "no consent to sharing with partners" in await say(bot, f"/referral {rid} send")
    shared = await report(bot, ANA, "trusted_partners")
    rid = referral_ref(await say(bot, f"/refer {shared} Safe Haven relocation"))
    answer = await say(bot, f"/referral {rid} send")
    assert "no chat contact" in answer and "+57 300 000 0000" in answer
    assert bot.matrix.to(PARTNER_CHAT) == []


async def test_anonymised_consent_sends_no_report_and_no_name(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "public_anonymised")
    case = await bot.db.cases.get(ref)
    name = next(w for w in (case.who or "").split() if w[:1].isupper())
    rid = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal about {name}"))
    assert f"names {name}" in await say(bot, f"/referral {rid} send")
    assert bot.matrix.to(PARTNER_CHAT) == []
    rid = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal a land defender"))
    assert "on its way to Lawyers Collective" in await say(bot, f"/referral {rid} send")
    summary = bot.matrix.last(PARTNER_CHAT).text
    assert case.what and case.what not in summary and (case.who or "") not in summary


async def test_an_open_referral_without_news_is_recalled_in_triage(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA)
    await say(bot, f"/ack {ref}")
    rid = referral_ref(await say(bot, f"/refer {ref} Safe Haven relocation"))

    def reminders() -> list[str]:
        return [o.text for o in bot.matrix.to(TRIAGE) if rid in o.text and "no news" in o.text]

    await bot.advance(timedelta(days=6, hours=23))
    assert reminders() == []
    await bot.advance(timedelta(hours=1))
    assert len(reminders()) == 1 and ref in reminders()[0] and "Safe Haven" in reminders()[0]
    await bot.advance(timedelta(days=3))
    await say(bot, f"/referral {rid} accepted")  # news: the clock starts again
    await bot.advance(timedelta(days=6))
    assert len(reminders()) == 1
    await bot.advance(timedelta(days=1))
    assert len(reminders()) == 2
    await say(bot, f"/referral {rid} delivered")
    await bot.advance(timedelta(days=30))
    assert len(reminders()) == 2, "a delivered referral is not recalled"


async def test_forget_makes_the_referral_note_unreadable(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA)
    rid = referral_ref(await say(bot, f"/refer {ref} Safe Haven relocation family of four"))
    await bot.send(ANA, "/forget")
    await bot.press(ANA, "forget:yes")
    assert (await bot.db.cases.get(ref)).withdrawn
    found = await bot.db.partners.get(rid)
    assert found.note is None and found.partner == "Safe Haven"


async def test_a_summary_sent_counts_as_news(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "trusted_partners")
    await say(bot, f"/ack {ref}")
    rid = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal"))
    await bot.advance(timedelta(days=5))
    assert "on its way to Lawyers Collective" in await say(bot, f"/referral {rid} send")
    await bot.advance(timedelta(days=6))
    assert not [o for o in bot.matrix.to(TRIAGE) if rid in o.text and "no news" in o.text]
    await bot.advance(timedelta(days=1))
    assert len([o for o in bot.matrix.to(TRIAGE) if rid in o.text and "no news" in o.text]) == 1

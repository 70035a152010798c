"""Case news: each notice reaches the defender through the outbox, in their
language, and never names an advisor or shows an advisor's account."""

from __future__ import annotations

from datetime import timedelta

from handlers.i18n import render
from handlers.messages import Address, Platform
from storage.records_casework import PartnerEntry
from tests.handlers.test_appeals import ready_appeal, say, seed
from tests.handlers.test_intake import full_report
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness, drain_outbox

ANA = Address(Platform.TELEGRAM, "7001")
ADVISOR_TRACES = ("alice", "@alice", str(BOB.id), "localhost")


_MARKS: dict[tuple[int, str], int] = {}


async def mark(bot: Harness, who: Address = ANA) -> None:
    """From here on, ``news`` counts what reaches the defender."""
    await drain_outbox(bot)
    _MARKS[(id(bot), str(who))] = len(bot.telegram.to(who))


async def news(bot: Harness, who: Address = ANA) -> list[str]:
    """What the outbox delivered to the defender since ``mark`` or the last call (the
    harness delivers the outbox after every message, so news is out already)."""
    await drain_outbox(bot)
    texts = [o.text for o in bot.telegram.to(who)]
    start = _MARKS.get((id(bot), str(who)), 0)
    _MARKS[(id(bot), str(who))] = len(texts)
    return texts[start:]


def no_advisor_in(texts: list[str]) -> None:
    for text in texts:
        for trace in ADVISOR_TRACES:
            assert trace not in text.casefold(), f"{trace!r} leaked in {text!r}"


async def test_every_notice_reaches_the_defender_without_an_advisor(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")  # consent: public, anonymised
    await mark(bot)
    seen: list[str] = []

    await bot.send(ALICE, f"/claim {ref}", chat=TRIAGE)
    got = await news(bot)
    assert got == [
        f"News on your case {ref}: a person of the advisory group is handling it. "
        "/status shows what has happened so far."
    ]
    seen += got
    await bot.send(BOB, f"/ack {ref}", chat=BOB)
    assert await news(bot) == [], "acknowledged once, told once"

    await bot.db.partners.import_partners([PartnerEntry("Lawyers Collective", ("legal",))])
    await bot.send(ALICE, f"/refer {ref} Lawyers Collective legal", chat=TRIAGE)
    got = await news(bot)
    assert got == [
        f"News on your case {ref}: it was referred to Lawyers Collective for legal support."
    ]
    seen += got

    await seed(bot)
    appeal = await ready_appeal(bot, ref)
    await say(bot, ALICE, f"/appeal send {appeal}")
    got = await news(bot)
    assert len(got) == 1 and "urgent appeal" in got[0]
    assert "Free the defenders of the land collective." in got[0], "public consent: its text"
    seen += got

    await bot.send(ALICE, f"/close {ref} outcome=risk_reduced relocated safely", chat=TRIAGE)
    got = await news(bot)
    assert got == [
        f"News on your case {ref}: the advisory group closed it. If something new happens "
        f"within 30 days, /update {ref} followed by what happened reopens it."
    ]
    assert "relocated safely" not in got[0], "the internal reason stays internal"
    seen += got
    no_advisor_in(seen)

    status = (await bot.send(ANA, "/status"))[-1].text
    assert "a person of the advisory group is handling it" in status
    assert "referred to Lawyers Collective for legal support" in status
    assert "an urgent appeal was sent" in status
    assert "closed" in status
    no_advisor_in([status])


async def test_without_consent_to_partners_the_partner_is_not_named(bot: Harness) -> None:
    await bot.send(ANA, "/sos they are at the door")  # consent: advisory group only
    ref = bot.matrix.to(TRIAGE)[-1].text.split("case ")[1].split()[0]
    await bot.send(ANA, "/cancel")
    await mark(bot)
    await bot.db.partners.import_partners([PartnerEntry("Access Now", ("digital_security",))])
    await bot.send(ALICE, f"/refer {ref} Access Now digital_security", chat=TRIAGE)
    got = await news(bot)
    assert got == [f"News on your case {ref}: it was referred to a partner for digital security."]
    status = (await bot.send(ANA, "/status"))[-1].text
    assert "Access Now" not in status and "digital security" in status


async def test_news_in_the_defenders_language(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "es")
    await mark(bot)
    await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)
    got = await news(bot)
    expected = render(
        "es",
        "News on your case {ref}: a person of the advisory group is handling it. "
        "/status shows what has happened so far.",
        ref=ref,
    )
    assert got == [expected]
    assert expected != render(
        "en",
        "News on your case {ref}: a person of the advisory group "
        "is handling it. /status shows what has happened so far.",
        ref=ref,
    )


async def test_update_reopens_a_recently_closed_case(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/close {ref} outcome=resolved done", chat=TRIAGE)
    replies = await bot.send(ANA, f"/update {ref} they came back last night")
    assert any(f"The defender reopened {ref}" in o.text for o in replies if o.chat == TRIAGE)
    case = await bot.db.cases.get(ref)
    assert case.state == "triage" and case.closed_at is None
    assert "reopened" in (await bot.send(ANA, "/status"))[-1].text

    await bot.send(ALICE, f"/close {ref} outcome=resolved done again", chat=TRIAGE)
    bot.clock.advance(timedelta(days=31))
    replies = await bot.send(ANA, f"/update {ref} more news")
    assert "cannot be reopened" in replies[-1].text
    assert (await bot.db.cases.get(ref)).state == "closed"

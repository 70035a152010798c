"""The report's country question and the tags on the case card (issue 14),
through the real router and storage on the in-memory harness.

Two advisory rooms: the end-to-end encrypted Matrix triage room, which may
show content, and a Telegram group, which may not (docs/spec.md §4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.conversation.record import State
from handlers.conversation.steps import STEPS
from handlers.i18n import render
from handlers.messages import Address, Platform
from handlers.vocab import Casework
from tests.handlers.test_intake import ANSWERS, ref_in
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness, default_settings, make_harness

ANA = Address(Platform.TELEGRAM, "7001")
GROUP = Address(Platform.TELEGRAM, "-100500")  # an advisory room that is not E2EE
CASEWORK = Casework(intake_countries=("CO", "MX", "KE"), regions={"CO": "americas"})
QUESTION = STEPS[State.COUNTRY].question


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = default_settings(casework=CASEWORK, advisory_rooms=(TRIAGE, GROUP))
    harness = await make_harness(tmp_path, settings)
    yield harness
    await harness.scheduler.stop()
    await harness.db.close()


async def start_report(bot: Harness, who: Address, language: str) -> None:
    """/start, the language, /report, what and where: the country question is next."""
    what, where, _ = ANSWERS[language]
    await bot.send(who, "/start", hint=language)
    await bot.press(who, f"lang:{language}")
    await bot.send(who, "/report")
    await bot.send(who, what)
    await bot.press(who, "what:done")
    await bot.send(who, where)


async def finish_report(bot: Harness, who: Address, language: str) -> str:
    """Who is at risk … send, after the country was answered; the case reference."""
    await bot.send(who, ANSWERS[language][2])
    await bot.press(who, "urgency:days")
    await bot.press(who, "consent:public_anonymised")
    await bot.press(who, "contact:skip")
    replies = await bot.press(who, "summary:confirm")
    return ref_in(next(o for o in replies if o.chat == who and "C-" in o.text).text)


def card(bot: Harness, room: Address, ref: str) -> str:
    return next(o.text for o in bot.messenger(room.platform).to(room) if f"case {ref}" in o.text)


@pytest.mark.parametrize(
    ("language", "colombia"),
    [("en", "Colombia"), ("es", "Colombia"), ("fr", "Colombie"), ("ar", "كولومبيا")],
)
async def test_a_country_button_tags_the_case_and_shows_on_the_encrypted_card_only(
    bot: Harness, language: str, colombia: str
) -> None:
    await start_report(bot, ANA, language)
    question = bot.telegram.last(ANA)
    assert question.text == render(language, QUESTION)
    labels = [o.label for o in question.options]
    assert labels[0] == colombia and len(labels) == 5
    assert labels[3:] == [render(language, "Other"), render(language, "Skip")]
    await bot.press(ANA, "country:CO")
    ref = await finish_report(bot, ANA, language)
    shown = render(language, "Country: {text}", text=f"{colombia} (CO)")
    assert any(shown in o.text for o in bot.telegram.to(ANA)), "the summary shows it"
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("CO",)}
    assert "Country: Colombia (CO)" in card(bot, TRIAGE, ref)  # the rooms' language: en
    assert "Colombia" not in card(bot, GROUP, ref) and "CO)" not in card(bot, GROUP, ref)
    history = await bot.db.cases.history(ref)
    tagged = [e for e in history if e.kind == "tagged"]
    assert len(tagged) == 1 and tagged[0].role == "defender" and tagged[0].actor is None


@pytest.mark.parametrize(
    ("language", "typed", "code"),
    [
        ("en", "mexico", "MX"),
        ("es", "Perú", "PE"),
        ("fr", "Côte d’Ivoire", "CI"),
        ("ar", "كينيا", "KE"),
    ],
)
async def test_other_takes_a_name_in_the_defenders_language_or_a_code(
    bot: Harness, language: str, typed: str, code: str
) -> None:
    await start_report(bot, ANA, language)
    asked = (await bot.press(ANA, "country:other"))[-1].text
    assert asked == render(
        language, "Write the name of the country, or its two-letter code (CO for Colombia)."
    )
    after = await bot.send(ANA, typed)
    assert after[-1].text == render(language, STEPS[State.WHO].question)
    ref = await finish_report(bot, ANA, language)
    assert (await bot.db.casefile.get(ref)).tags == {"country": (code,)}


async def test_a_code_typed_without_other_is_taken_too(bot: Harness) -> None:
    await start_report(bot, ANA, "en")
    await bot.send(ANA, "gt")
    ref = await finish_report(bot, ANA, "en")
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("GT",)}


async def test_an_unknown_country_is_asked_again_and_changes_nothing(bot: Harness) -> None:
    await start_report(bot, ANA, "en")
    answer = (await bot.send(ANA, "Atlantis"))[-1]
    assert answer.text.startswith("I do not know that country.")
    assert [o.key for o in answer.options][-2:] == ["country:other", "country:skip"]
    await bot.press(ANA, "country:skip")
    ref = await finish_report(bot, ANA, "en")
    assert (await bot.db.casefile.get(ref)).tags == {}
    assert "Country:" not in card(bot, TRIAGE, ref)


async def test_a_name_of_several_countries_is_asked_back_as_buttons(bot: Harness) -> None:
    await start_report(bot, ANA, "en")
    answer = (await bot.send(ANA, "Guiné"))[-1]  # the start of three countries' names
    assert answer.text == "Which one?"
    assert [o.key for o in answer.options] == [
        "country:GN",
        "country:GQ",
        "country:GW",
        "country:other",
        "country:skip",
    ]
    assert (await bot.press(ANA, "Guinea-Bissau"))[-1].text == STEPS[State.WHO].question
    ref = await finish_report(bot, ANA, "en")
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("GW",)}


async def test_the_country_can_be_changed_from_the_summary(bot: Harness) -> None:
    await start_report(bot, ANA, "en")
    await bot.press(ANA, "country:KE")
    await bot.send(ANA, ANSWERS["en"][2])
    await bot.press(ANA, "urgency:days")
    await bot.press(ANA, "consent:public_anonymised")
    await bot.press(ANA, "contact:skip")
    assert "Country: Kenya (KE)" in bot.telegram.last(ANA).text
    await bot.press(ANA, "summary:edit")
    assert "edit:country" in [o.key for o in bot.telegram.last(ANA).options]
    again = await bot.press(ANA, "edit:country")
    assert again[-1].text == QUESTION
    back = await bot.press(ANA, "country:MX")
    assert "Country: Mexico (MX)" in back[-1].text
    receipt = await bot.press(ANA, "summary:confirm")
    ref = ref_in(next(o for o in receipt if o.chat == ANA and "C-" in o.text).text)
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("MX",)}


async def test_no_countries_configured_no_question(tmp_path: Path) -> None:
    harness = await make_harness(tmp_path)  # the default: no [casework] countries
    try:
        await start_report(harness, ANA, "en")
        assert harness.telegram.last(ANA).text == STEPS[State.WHO].question
        harness.telegram.sent.clear()
        await harness.send(ANA, ANSWERS["en"][2])
        await harness.press(ANA, "urgency:days")
        await harness.press(ANA, "consent:advisory_only")
        await harness.press(ANA, "contact:skip")
        summary = harness.telegram.last(ANA)
        assert "Country" not in summary.text
        await harness.press(ANA, "summary:edit")
        assert "edit:country" not in [o.key for o in harness.telegram.last(ANA).options]
    finally:
        await harness.scheduler.stop()
        await harness.db.close()


async def test_sos_completed_with_a_country_tells_the_rooms_under_the_reference(
    bot: Harness,
) -> None:
    await bot.send(ANA, "/start", hint="en")
    await bot.press(ANA, "lang:en")
    replies = await bot.send(ANA, "/sos they are at the door")
    ref = ref_in(next(o for o in replies if o.chat == ANA and "C-" in o.text).text)
    assert "Country:" not in card(bot, TRIAGE, ref)  # the SOS card goes before any answer
    await bot.send(ANA, "Bogotá")
    await bot.press(ANA, "country:CO")
    await finish_report(bot, ANA, "en")
    told = [o.text for o in bot.matrix.to(TRIAGE) if o.text.startswith(f"Tags of {ref}")]
    assert told == [f"Tags of {ref} changed:\nCountry: Colombia (CO)"]
    plain = [o.text for o in bot.telegram.to(GROUP) if o.text.startswith(f"Tags of {ref}")]
    assert len(plain) == 1 and "Colombia" not in plain[0] and f"/case {ref}" in plain[0]


async def test_a_tag_change_follows_the_card_in_the_other_rooms_by_the_content_rule(
    bot: Harness,
) -> None:
    await start_report(bot, ANA, "en")
    await bot.press(ANA, "country:skip")
    ref = await finish_report(bot, ANA, "en")
    # In the encrypted room: the reply has the values, and no second notice there.
    replies = await bot.send(ALICE, f"/tag {ref} country=CO profile=lgbtiq", chat=TRIAGE)
    here = [o for o in replies if o.chat == TRIAGE]
    assert len(here) == 1 and "Profile: LGBTIQ+" in here[0].text
    group = [o.text for o in replies if o.chat == GROUP]
    assert group == [
        f"Tags of {ref} changed. This room is not end-to-end encrypted: /case {ref} in an "
        "encrypted chat shows them."
    ]
    # From the unencrypted group: its reply withholds the values; the encrypted room gets them.
    replies = await bot.send(BOB, f"/tag {ref} threat=raid", chat=GROUP)
    reply = [o.text for o in replies if o.chat == GROUP]
    assert len(reply) == 1 and f"{ref} tagged." in reply[0]
    assert "raid" not in reply[0] and "LGBTIQ" not in reply[0] and "Colombia" not in reply[0]
    triage = [o.text for o in replies if o.chat == TRIAGE]
    assert triage == [
        f"Tags of {ref} changed:\nCountry: Colombia (CO)\nThreat: raid\nProfile: LGBTIQ+"
    ]
    # A card posted after the tags carries them: the case view in the encrypted room too.
    view = (await bot.send(ALICE, f"/case {ref}", chat=TRIAGE))[-1].text
    assert "Threat: raid" in view
    view = (await bot.send(BOB, f"/case {ref}", chat=GROUP))[-1].text
    assert "raid" not in view and "LGBTIQ" not in view


async def test_on_matrix_the_country_is_a_numbered_choice_or_a_typed_name(bot: Harness) -> None:
    """Matrix has no buttons: the options come as a numbered list, answered by number."""
    defender = Address(Platform.MATRIX, "@ana:localhost")
    await start_report(bot, defender, "fr")
    question = bot.matrix.last(defender)
    assert question.text == render("fr", QUESTION)
    assert [o.label for o in question.options][:3] == ["Colombie", "Mexique", "Kenya"]
    await bot.send(defender, "2")
    ref = await finish_report(bot, defender, "fr")
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("MX",)}
    second = Address(Platform.MATRIX, "@amani:localhost")
    await start_report(bot, second, "fr")
    await bot.send(second, "Congo-Kinshasa")  # CLDR's name; CLDR has no official long names
    ref = await finish_report(bot, second, "fr")
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("CD",)}

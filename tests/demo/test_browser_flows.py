"""The whole flow clicked through the page, in English and in Arabic.

Each language is one ``Report``; the flows chain on the reference the
report returns: report → card → triage (→ appeal → signature, as they land).
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from handlers.conversation.record import State
from handlers.conversation.steps import STEPS
from handlers.vocab import country_name
from tests.demo.browser import DemoPage
from tests.demo.flows import Report, ack_by_reply, ask_defender, card, report

SCRIPT = {"en": re.compile("[A-Za-z]{4}"), "ar": re.compile("[\u0600-\u06ff]{4}")}
REPORTS = {
    "en": Report(
        persona="defender-en",
        language="en",
        what="Two men followed me home after the hearing and threatened my family.",
        where="Nakuru, Kenya",
        who="Me and the land rights committee",
        country="KE",
    ),
    "ar": Report(
        persona="defender-ar",
        language="ar",
        what="تلقيت تهديدات بالقتل بعد نشر تقريري عن الاعتقالات.",
        where="طرابلس، لبنان",
        who="أنا وزملائي في الجمعية",
        country="LB",
    ),
}


@pytest.mark.parametrize("language", REPORTS)
async def test_report_reaches_the_triage_room_as_a_case_card(page: DemoPage, language: str) -> None:
    r = REPORTS[language]
    ref = await report(page, r)

    text = await card(page, ref)
    assert r.what in text and r.where in text and r.who in text
    assert "IMMEDIATE" in text
    # The country the defender chose from the buttons, as the case's tag (rooms: English).
    assert f"Country: {country_name(r.country, 'en')} ({r.country})" in text
    receipt = await page.messages("private", bot=True).filter(has_text=ref).last.inner_text()
    assert SCRIPT[language].search(receipt)


ANSWERS = {"en": "Yes, I am at my sister's house tonight.", "ar": "نعم، أنا عند أختي الليلة."}


@pytest.mark.parametrize("language", REPORTS)
async def test_triage_acknowledges_and_talks_to_the_defender(page: DemoPage, language: str) -> None:
    r = REPORTS[language]
    ref = await report(page, r)
    await card(page, ref)

    await ack_by_reply(page, ref)
    await ask_defender(page, r, ref, "Are you somewhere safe tonight?", ANSWERS[language])

    # Acknowledged: moving the clock on brings no re-alert.
    await page.advance(15)
    await page.advance(60)
    await expect(page.pane("triage").get_by_text("still not acknowledged")).to_have_count(0)


async def test_arabic_is_right_to_left_with_arabic_buttons(page: DemoPage) -> None:
    r = REPORTS["ar"]
    await page.be("private", "defender-ar")
    await expect(page.pane("private")).to_have_attribute("dir", "rtl")
    await page.say("private", "/report")
    await page.expect_bot("private", r.t(STEPS[State.WHAT].question))
    button = page.pane("private").locator(".buttons button").last
    assert await button.inner_text() == r.t("Done") != "Done"
    question = page.messages("private", bot=True).last.locator(".text")
    assert await question.evaluate("node => getComputedStyle(node).direction") == "rtl"
    await expect(page.pane("group-2")).to_have_attribute("dir", "rtl")
    await page.be("private", "defender-en")
    await expect(page.pane("private")).to_have_attribute("dir", "ltr")

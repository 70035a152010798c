"""The whole chain, clicked through the page: report → case card → triage →
appeal → signatures, started by an English and by an Arabic defender."""

from __future__ import annotations

import pytest

from tests.demo.browser import DemoPage
from tests.demo.flows import ack_by_reply, appeal, card, report, sign
from tests.demo.test_browser_flows import REPORTS

TEXTS = {
    "en": "Urgent: a land rights defender in Nakuru was followed and threatened.",
    "ar": "عاجل: مدافع عن الحقوق في طرابلس تلقى تهديدات بالقتل.",
}


@pytest.mark.parametrize("language", REPORTS)
async def test_report_to_signatures(page: DemoPage, language: str) -> None:
    ref = await report(page, REPORTS[language])
    await card(page, ref)
    await ack_by_reply(page, ref)
    appeal_ref = await appeal(page, ref, TEXTS, "2026-03-20")
    # Each group gets the appeal in its own language, with a Sign button in that language.
    await page.expect_bot("group-1", TEXTS["en"])
    await page.expect_bot("group-2", TEXTS["ar"])
    await sign(page, "group-1", "member-1", appeal_ref, "en")
    await sign(page, "group-2", "member-2", appeal_ref, "ar")
    await page.be("triage", "advisor-1")
    await page.say("triage", f"/appeal status {appeal_ref}")
    await page.expect_bot_any("triage", f"{appeal_ref}: 2 signatures.")

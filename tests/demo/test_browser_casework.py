"""Casework clicked through the page: tagging a case, a referral whose summary reaches
the partner, and /stats on the playground's sample year."""

from __future__ import annotations

import re

from tests.demo.browser import DemoPage
from tests.demo.constants import START, ref_in
from tests.demo.flows import ack_by_reply, card, report
from tests.demo.test_browser_flows import REPORTS

REFERRAL_REF = re.compile(r"R-[0-9A-HJKMNP-TV-Z]{6}")


async def test_tag_refer_and_stats(page: DemoPage) -> None:
    ref = await report(page, REPORTS["en"])
    await card(page, ref)
    await ack_by_reply(page, ref)
    await page.say("triage", f"/tag {ref} country=KE threat=death_threat profile=land_defender")
    await page.expect_bot("triage", f"{ref} tagged.")
    await page.expect_bot("triage", "Threat: death threat")
    await page.say("triage", f"/refer {ref} Defenders Legal Aid legal hearing on Monday")
    opened = await page.expect_bot("triage", REFERRAL_REF)
    referral = ref_in(await opened.inner_text(), REFERRAL_REF)
    await page.say("triage", f"/referral {referral} send")
    await page.expect_bot("triage", f"Summary of {referral} is on its way to Defenders Legal Aid.")
    await page.be("private", "partner-1")
    await page.expect_bot("private", "hearing on Monday")
    await page.be("triage", "advisor-1")
    await page.say("triage", f"/stats {START.year - 1}")
    await page.expect_bot("triage", "Cases: 84")
    await page.say("triage", f"/close {ref} outcome=risk_reduced")
    await page.expect_bot("triage", f"{ref} closed. Outcome: risk reduced.")

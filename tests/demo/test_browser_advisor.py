"""`/advisor add` in the playground: the coordinator joins the advisory group
once a second advisor confirms (issue 18, item 8)."""

from __future__ import annotations

from tests.demo.browser import DemoPage

REFUSED = "This command is for the advisory group."


async def test_two_advisors_add_the_coordinator(page: DemoPage) -> None:
    await page.be("triage", "coordinator")
    await page.say("triage", "/cases")
    await page.expect_bot("triage", REFUSED)
    await page.be("triage", "advisor-1")
    await page.say("triage", "/advisor add web:coordinator")
    await page.expect_bot(
        "triage", "Proposed. Another advisor confirms with: /advisor add web:coordinator"
    )
    await page.be("triage", "advisor-2")
    await page.say("triage", "/advisor add web:coordinator")
    await page.expect_bot("triage", "web:coordinator is now an advisor.")
    await page.be("triage", "coordinator")
    await page.say("triage", "/advisor list")
    await page.expect_bot("triage", "Advisors:")

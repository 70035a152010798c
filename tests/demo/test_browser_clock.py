"""The clock control: escalation, without waiting."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect

from tests.demo.browser import DemoPage
from tests.demo.constants import START
from tests.demo.flows import sos


async def test_the_page_shows_the_demo_time_and_moves_it(page: DemoPage) -> None:
    assert await page.now() == START
    await expect(page.page.locator("#now")).to_contain_text("10:00 UTC")
    await page.advance(60)
    assert await page.now() == START + timedelta(hours=1)
    await page.advance(1440)
    assert await page.now() == START + timedelta(days=1, hours=1)


async def test_fifteen_minutes_later_an_unacknowledged_case_re_alerts(page: DemoPage) -> None:
    ref = await sos(page, "defender-en", "en", "They are outside my office right now.")
    await page.expect_bot("triage", f"SOS — new case {ref}")

    await page.advance(15)
    alert = await page.expect_bot("triage", f"Case {ref} (immediate) is still not acknowledged")
    await expect(alert).to_contain_text("Ana, Ben")  # the playground names its advisors

    # A second miss reaches the escalation list by private message.
    await page.advance(15)
    private = page.pane("private").locator("select[data-role=sender] option[value=coordinator]")
    await expect(private).to_contain_text("(1 new)")
    await page.be("private", "coordinator")
    await page.expect_bot("private", f"Case {ref} (immediate) has gone unacknowledged twice")

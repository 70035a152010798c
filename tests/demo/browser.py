"""The demo page driven through Playwright: a small vocabulary for the flows.

``DemoPage`` speaks in the page's own terms (a pane, a persona, a message, a
button), so a flow reads like what a trainer does in front of a room.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    async_playwright,
    expect,
)

from bot.demo import Demo
from tests.demo.constants import CHROMIUM, CHROMIUM_ARGS

expect.set_options(timeout=10_000)


class DemoPage:
    def __init__(self, page: Page, demo: Demo) -> None:
        self.page = page
        self.demo = demo

    def pane(self, name: str) -> Locator:
        """``private``, ``triage``, ``group-1`` or ``group-2``."""
        return self.page.locator(f'section.pane[data-pane="{name}"]')

    def messages(self, pane: str, *, bot: bool | None = None) -> Locator:
        kind = "" if bot is None else (".bot" if bot else ".person")
        return self.pane(pane).locator(f".msg{kind}")

    async def be(self, pane: str, persona: str) -> None:
        """Choose who is writing in ``pane`` (in the private pane: whose chat it is)."""
        await self.pane(pane).locator("select[data-role=sender]").select_option(persona)

    async def say(self, pane: str, text: str) -> None:
        box = self.pane(pane).locator("textarea[data-role=input]")
        await box.fill(text)
        await box.press("Enter")
        await expect(self.messages(pane, bot=False).last).to_contain_text(text.split("\n")[0])

    async def press(self, pane: str, label: str) -> None:
        """Press the newest button labelled ``label``."""
        buttons = self.pane(pane).locator(".msg .buttons")
        await buttons.get_by_role("button", name=label, exact=True).last.click()

    async def expect_bot(self, pane: str, text: str | re.Pattern[str]) -> Locator:
        """Wait until the bot's newest message in ``pane`` contains ``text``; that message."""
        last = self.messages(pane, bot=True).last
        await expect(last).to_contain_text(text)
        return last

    async def expect_bot_any(self, pane: str, text: str) -> Locator:
        """Wait until one of the bot's messages in ``pane`` contains ``text`` (other
        bot messages, such as a broadcast's report, may come after it)."""
        found = self.messages(pane, bot=True).filter(has_text=text).last
        await expect(found).to_be_visible()
        return found

    async def advance(self, minutes: int) -> None:
        before = await self.now()
        await self.page.locator(f'#clock button[data-minutes="{minutes}"]').click()
        await expect(self.page.locator("#now")).not_to_have_attribute(
            "data-iso", before.isoformat()
        )

    async def now(self) -> datetime:
        iso = await self.page.locator("#now").get_attribute("data-iso")
        assert iso is not None
        return datetime.fromisoformat(iso)


@asynccontextmanager
async def launch_browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless; Playwright downloads nothing."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def open_page(
    browser: Browser, demo: Demo, width: int = 1440, height: int = 900
) -> AsyncIterator[DemoPage]:
    """A fresh browser context on the demo's page; a script or console error fails the test."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    context = await browser.new_context(viewport={"width": width, "height": height})
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        await page.goto(demo.url)
        await expect(page.locator("#status")).to_have_text("connected")
        yield DemoPage(page, demo)
    finally:
        await context.close()
    assert problems == []

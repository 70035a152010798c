"""What the page promises: text stays text, history survives a reload, buttons
are server-side tokens, the bot's edits, deletions and files show."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import expect

from handlers.i18n import render
from handlers.messages import Address, Option
from tests.demo.browser import DemoPage

HOSTILE = '<img src=x onerror="window.pwned=1"><b>bold</b> & <script>window.pwned=2</script>'


async def test_user_text_is_shown_literally(page: DemoPage) -> None:
    await page.be("triage", "advisor-1")
    await page.say("triage", HOSTILE)
    message = page.messages("triage", bot=False).last
    await expect(message.locator(".text")).to_have_text(HOSTILE)
    assert await message.locator("img, b, script").count() == 0
    assert await page.page.evaluate("window.pwned") is None


async def test_a_reloaded_page_gets_the_history_again(page: DemoPage) -> None:
    await page.be("private", "defender-fr")
    await page.say("private", "/help")
    await page.expect_bot("private", render("fr", "What you can do:"))
    await page.page.reload()
    await expect(page.page.locator("#status")).to_have_text("connected")
    await page.be("private", "defender-fr")
    await page.expect_bot("private", render("fr", "What you can do:"))
    await expect(page.pane("private")).to_have_attribute("lang", "fr")


async def test_a_stale_button_is_refused_and_the_question_asked_again(page: DemoPage) -> None:
    await page.be("private", "defender-en")
    await page.say("private", "/report")
    await page.say("private", "Threats by phone.")
    await page.press("private", "Done")
    await page.expect_bot("private", "Where is this happening?")
    await page.pane("private").locator(".buttons button", has_text="Done").first.click()
    await page.expect_bot("private", "Where is this happening?")
    await expect(page.messages("private", bot=True).nth(-2)).to_contain_text(
        "That question is closed"
    )


async def test_bot_edits_deletions_and_files_show(page: DemoPage) -> None:
    messenger = page.demo.web.messenger
    room = Address.parse("web:triage")
    sent = await messenger.ask(room, "Version one", [Option("x", "A button")])
    await page.expect_bot("triage", "Version one")
    assert await messenger.edit_text(room, sent.message_id, "Version two")
    edited = await page.expect_bot("triage", "Version two")
    await expect(edited).to_contain_text("(edited)")
    await expect(edited.locator(".buttons button")).to_have_count(0)

    await messenger.send_file(room, "tally.csv", b"name,region\nHaki,Africa\n", "text/csv", "Tally")
    link = page.pane("triage").get_by_role("link", name="tally.csv")
    async with page.page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    saved = Path(await download.path())
    assert await asyncio.to_thread(saved.read_bytes) == b"name,region\nHaki,Africa\n"

    assert await messenger.delete_message(room, sent.message_id)
    await expect(page.pane("triage").get_by_text("Version two")).to_have_count(0)
    assert not await messenger.delete_message(room, sent.message_id)


async def test_a_photo_sent_from_the_page_reaches_the_card(page: DemoPage, tmp_path: Path) -> None:
    photo = tmp_path / "threat.png"
    photo.write_bytes(PNG)
    await page.be("private", "defender-en")
    await page.say("private", "/report")
    await page.pane("private").locator("input[type=file]").set_input_files(photo)
    await page.expect_bot("private", "Noted. Add more, or press Done.")
    await expect(page.messages("private", bot=False).last).to_contain_text("threat.png")


async def test_replying_to_a_message_carries_the_reference(page: DemoPage) -> None:
    await page.be("triage", "advisor-2")
    await page.say("triage", "First message")
    first = page.messages("triage", bot=False).last
    first_id = await first.get_attribute("data-id")
    await first.locator("button.reply").click()
    await expect(page.pane("triage").locator(".reply-bar")).to_contain_text("First message")
    await page.say("triage", "An answer to it")
    answer = page.messages("triage", bot=False).last
    await expect(answer.locator(".quote")).to_have_text("First message")
    chats = page.demo.web.chats
    last = list(chats.messages.values())[-1]
    assert last.reply_to == first_id


# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

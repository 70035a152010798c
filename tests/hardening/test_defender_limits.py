"""/sos and /update keep the same limits as the report: text length, kinds,
sizes and number of files."""

from __future__ import annotations

from handlers.messages import Address, Attachment, AttachmentKind, Platform
from tests.handlers.test_intake import full_report, ref_in
from tests.harness.bot import Harness

ANA = Address(Platform.TELEGRAM, "7601")
VOICE = Attachment(AttachmentKind.OTHER, "voice.ogg", "audio/ogg", 3, b"ogg")
BIG = Attachment(AttachmentKind.DOCUMENT, "a.pdf", "application/pdf", 50_000_000, b"")
PHOTO = Attachment(AttachmentKind.PHOTO, "p.jpg", "image/jpeg", 4, b"\xff\xd8ab")


async def test_sos_with_a_text_over_the_limit_alerts_without_it(bot: Harness) -> None:
    limit = bot.services.settings.max_text_chars
    replies = await bot.send(ANA, "/sos " + "x" * (limit + 1))
    texts = [o.text for o in replies if o.chat == ANA]
    assert any("too long" in t for t in texts)
    ref = ref_in(next(t for t in texts if "C-" in t))
    assert (await bot.db.cases.get(ref)).what == ""


async def files_of(bot: Harness, ref: str) -> int:
    return len((await bot.db.cases.get(ref)).attachments)


async def test_update_refuses_what_the_report_refuses(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    for bad, says in ((VOICE, "text, photos and documents only"), (BIG, "too large")):
        replies = await bot.send(ANA, f"/update {ref} more", attachments=(bad,))
        assert says in replies[-1].text and "Added" not in replies[-1].text
    assert len(await bot.db.cases.history(ref)) == 1  # nothing was added
    limit = bot.services.settings.max_attachments_per_report
    for _ in range(limit):
        await bot.send(ANA, f"/update {ref}", attachments=(PHOTO,))
    assert await files_of(bot, ref) == limit
    replies = await bot.send(ANA, f"/update {ref}", attachments=(PHOTO, PHOTO))
    assert "files at most" in replies[-1].text
    assert await files_of(bot, ref) == limit

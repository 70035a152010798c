"""After /ask: a conversation window; /update files and /case deliver files;
voice, video and location reach encrypted rooms only."""

from __future__ import annotations

import json
from datetime import timedelta

from handlers.messages import LOCATION_MIME, Address, Attachment, AttachmentKind, Platform
from handlers.settings import Settings
from tests.handlers.test_intake import full_report
from tests.harness.bot import ALICE, TRIAGE, Harness, default_settings, make_harness

ANA = Address(Platform.TELEGRAM, "7001")
PLAIN_ROOM = Address(Platform.MATRIX, "!plain:localhost")  # not end-to-end encrypted

SCREENSHOT = Attachment(AttachmentKind.PHOTO, "shot.jpg", "image/jpeg", 5, b"\xff\xd8pic")
VOICE = Attachment(AttachmentKind.VOICE, "voice.ogg", "audio/ogg", 6, b"OggS\x00v")
VIDEO = Attachment(AttachmentKind.VIDEO, "clip.mp4", "video/mp4", 6, b"\x00\x00mp4v")
POINT = json.dumps({"lat": 2.4448, "lon": -76.6147}).encode()
LOCATION = Attachment(AttachmentKind.LOCATION, "location.json", LOCATION_MIME, len(POINT), POINT)
STICKER = Attachment(AttachmentKind.OTHER, "", "", 0, b"")


def files_in(bot: Harness, room: Address) -> list[str]:
    return [o.file[0] for o in bot.matrix.to(room) if o.file]


async def test_everything_within_the_window_goes_to_the_room_until_done(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/ask {ref} Can you send a photo of the message?", chat=TRIAGE)
    replies = await bot.send(ANA, "Here it is.")
    [receipt] = [o for o in replies if o.chat == ANA]
    assert [o.label for o in receipt.options] == ["Done"]
    replies = await bot.send(ANA, attachments=(SCREENSHOT,))
    assert "To report a threat" not in " ".join(o.text for o in replies)
    assert "shot.jpg" in files_in(bot, TRIAGE)
    await bot.send(ANA, attachments=(VOICE,))
    assert "voice.ogg" in files_in(bot, TRIAGE)
    await bot.send(ANA, "And one more thing.")
    assert any("one more thing" in o.text for o in bot.matrix.to(TRIAGE))
    await bot.press(ANA, "Done")
    replies = await bot.send(ANA, attachments=(SCREENSHOT,))
    assert files_in(bot, TRIAGE).count("shot.jpg") == 1, "after Done the window is closed"
    history = await bot.db.cases.history(ref)
    stored = [a.filename for e in history for a in e.attachments]
    assert {"shot.jpg", "voice.ogg"} <= set(stored), "kept sealed with the case"


async def test_the_window_closes_after_thirty_minutes(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/ask {ref} Where are you?", chat=TRIAGE)
    await bot.send(ANA, "At home.")
    bot.clock.advance(timedelta(minutes=29))
    await bot.send(ANA, attachments=(SCREENSHOT,))
    assert files_in(bot, TRIAGE) == ["shot.jpg"]
    bot.clock.advance(timedelta(minutes=2))
    replies = await bot.send(ANA, attachments=(SCREENSHOT,))
    assert files_in(bot, TRIAGE) == ["shot.jpg"]
    assert "/report" in [o for o in replies if o.chat == ANA][-1].text


async def test_update_files_reach_the_encrypted_room_and_case_sends_its_files(
    bot: Harness,
) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ANA, f"/update {ref} the letter they sent", attachments=(SCREENSHOT,))
    assert files_in(bot, TRIAGE) == ["shot.jpg"]
    before = len(bot.matrix.to(ALICE))
    replies = await bot.send(ALICE, f"/case {ref}")
    sent = [o.file[0] for o in bot.matrix.to(ALICE)[before:] if o.file]
    assert sent == ["shot.jpg"]
    assert "Files: 1 (sent below)" in replies[0].text


async def test_stickers_are_refused_with_one_message(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    replies = await bot.send(ANA, f"/update {ref} look", attachments=(STICKER,))
    assert len([o for o in replies if o.chat == ANA]) == 1
    assert "Nothing was saved" in [o for o in replies if o.chat == ANA][-1].text
    assert [e for e in await bot.db.cases.history(ref) if e.kind == "update"] == []


async def test_voice_video_and_location_reach_only_encrypted_rooms(tmp_path: object) -> None:
    settings: Settings = default_settings(
        advisory_rooms=(TRIAGE, PLAIN_ROOM), allow_content_in_unencrypted_rooms=True
    )
    bot = await make_harness(tmp_path, settings)  # type: ignore[arg-type]
    try:
        ref = await full_report(bot, ANA, "en")
        await bot.send(ANA, f"/update {ref} recording", attachments=(VOICE,))
        await bot.send(ANA, f"/update {ref} video", attachments=(VIDEO,))
        await bot.send(ANA, f"/update {ref} here", attachments=(LOCATION,))
        assert files_in(bot, TRIAGE) == ["voice.ogg", "clip.mp4"]
        located = [o.text for o in bot.matrix.to(TRIAGE) if "Location shared" in o.text]
        assert located and "2.44480, -76.61470" in located[0]
        assert "openstreetmap.org/?mlat=2.44480&mlon=-76.61470" in located[0]
        # The unencrypted room: even with content allowed there, no voice, video or place.
        assert files_in(bot, PLAIN_ROOM) == []
        plain = " ".join(o.text for o in bot.matrix.to(PLAIN_ROOM))
        assert "2.444" not in plain and "openstreetmap" not in plain
        assert f"A location was shared on {ref}." in plain
        assert "A voice note or video was added" in plain
        # An advisor's /case in the unencrypted room: still no voice, video or place.
        await bot.send(ALICE, f"/case {ref}", chat=PLAIN_ROOM)
        assert files_in(bot, PLAIN_ROOM) == []
        assert "2.444" not in " ".join(o.text for o in bot.matrix.to(PLAIN_ROOM))
    finally:
        await bot.close()

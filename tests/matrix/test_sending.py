"""Sending: rate limits waited out, removal from a room, files both ways."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from nio import DownloadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.transports.matrix_messenger import SendPolicy
from handlers.messages import Address, AttachmentKind, IncomingMessage, Platform
from handlers.messenger import DestinationGone, RateLimited, TransientSendError
from tests.matrix.peers import BotKit, Peer, Recorder, wait_until

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)


async def test_limit_exceeded_is_waited_out(limited_kit: BotKit, tmp_path: Path) -> None:
    kit = limited_kit
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    bot = await kit.start(Recorder())
    bot.messenger.sleep = recording_sleep
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    chat = Address(Platform.MATRIX, room_id)

    # rc_message lets a burst of two through (the bot's join was one), then M_LIMIT_EXCEEDED.
    texts: list[str] = []
    while not waits:
        assert len(texts) < 4, "the homeserver never rate-limited the bot"
        texts.append(f"message {len(texts) + 1}")
        await bot.messenger.send_text(chat, texts[-1])
    assert all(0 < w <= 10 for w in waits)  # retry_after_ms, waited out, then sent
    await defender.until(lambda: defender.bodies(room_id, bot.user_id) == texts, "all of them")


async def test_a_too_long_retry_after_is_not_waited(limited_kit: BotKit, tmp_path: Path) -> None:
    kit = limited_kit
    bot = await kit.start(Recorder(), send=SendPolicy(max_wait=0.01))
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    chat = Address(Platform.MATRIX, room_id)

    with pytest.raises(TransientSendError):
        for text in ("a", "b", "c"):
            await bot.messenger.send_text(chat, text)
    assert kit.accounts.inactive == []


async def test_limit_exceeded_on_an_outbox_send_is_raised(
    limited_kit: BotKit, tmp_path: Path
) -> None:
    # With a txn_id the caller is the dispatcher's lane: its gate learns the
    # homeserver's retry_after from RateLimited; the transport does not wait.
    kit = limited_kit
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    bot = await kit.start(Recorder())
    bot.messenger.sleep = recording_sleep
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    chat = Address(Platform.MATRIX, room_id)

    with pytest.raises(RateLimited) as raised:
        for number in range(1, 5):
            await bot.messenger.send_text(chat, f"message {number}", txn_id=f"t.{number}")
    assert 0 < raised.value.retry_after <= 10
    assert waits == []


async def test_a_kicked_bot_gets_destination_gone(kit: BotKit, tmp_path: Path) -> None:
    bot = await kit.start(Recorder())
    assert bot.client is not None
    advisor = await kit.person("advisor", tmp_path)
    room_id = await advisor.open_dm(bot, direct=False)  # the advisor has the power to kick
    chat = Address(Platform.MATRIX, room_id)
    await bot.messenger.send_text(chat, "hello")

    kicked = await advisor.client.room_kick(room_id, bot.user_id, reason="bye")
    assert type(kicked).__name__ == "RoomKickResponse", kicked
    with pytest.raises(DestinationGone):  # whether or not the bot has synced the kick yet
        await bot.messenger.send_text(chat, "are you there?")
    assert f"matrix:{room_id}" in kit.accounts.inactive

    # The sync forgets the room; later sends fail fast the same way.
    await wait_until(lambda: room_id not in bot.client.rooms, "the bot to forget the room")
    with pytest.raises(DestinationGone):
        await bot.messenger.send_text(chat, "still?")
    with pytest.raises(DestinationGone):
        await bot.messenger.send_file(chat, "a.txt", b"a", "text/plain")


async def send_image(peer: Peer, room_id: str, data: bytes, size: int | None = None) -> None:
    await peer.send_file(
        room_id, data, msgtype="m.image", name="evidence.png", mimetype="image/png", size=size
    )


async def test_encrypted_files_both_ways(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder, max_attachment_bytes=2000 + len(PNG))
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)

    await send_image(defender, room_id, PNG)
    [msg] = await recorder.wait_for(1)
    [photo] = msg.attachments
    assert photo.kind is AttachmentKind.PHOTO
    assert (photo.filename, photo.mime_type, photo.size) == ("evidence.png", "image/png", len(PNG))
    assert photo.data == PNG and msg.text == ""

    document = os.urandom(5000)
    sent = await bot.messenger.send_file(
        msg.chat, "report.pdf", document, "application/pdf", caption="the report"
    )
    await defender.until(lambda: bool(defender.from_sender(room_id, bot.user_id)), "the file")
    [event] = defender.from_sender(room_id, bot.user_id)
    assert event.event_id == sent.message_id and event.decrypted
    content = event.source["content"]
    assert content["msgtype"] == "m.file" and "url" not in content
    assert (content["body"], content["filename"]) == ("the report", "report.pdf")
    assert content["info"] == {"mimetype": "application/pdf", "size": len(document)}
    downloaded = await defender.client.download(mxc=content["file"]["url"])
    assert isinstance(downloaded, DownloadResponse), downloaded
    assert downloaded.body != document  # the homeserver only holds ciphertext
    plain = decrypt_attachment(
        downloaded.body,
        content["file"]["key"]["k"],
        content["file"]["hashes"]["sha256"],
        content["file"]["iv"],
    )
    assert plain == document


async def test_oversized_files_are_not_downloaded(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder, max_attachment_bytes=1000)
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)

    await send_image(defender, room_id, PNG)  # says how big it is
    await send_image(defender, room_id, PNG, size=10)  # lies about it
    first, second = await recorder.wait_for(2)
    assert first.attachments[0].size == len(PNG) and first.attachments[0].data == b""
    assert second.attachments[0].size > 1000 and second.attachments[0].data == b""
    assert second.attachments[0].kind is AttachmentKind.PHOTO


async def test_a_file_is_downloaded_only_after_the_handlers_said_yes(
    kit: BotKit, tmp_path: Path
) -> None:
    """The transport asks first (``takes_files``: the rate limit, then whether a
    step takes files, handlers/file_gate.py) with the message without its file."""
    recorder = Recorder()
    asked: list[IncomingMessage] = []
    answers = iter([False, True])

    async def takes_files(msg: IncomingMessage) -> bool:
        asked.append(msg)
        return next(answers)

    bot = kit.transport(max_attachment_bytes=2000 + len(PNG))
    await bot.start(recorder, takes_files)
    kit.started.append(bot)
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)

    await send_image(defender, room_id, PNG)  # the handlers say no: never fetched
    await send_image(defender, room_id, PNG)  # yes: fetched and decrypted
    first, second = await recorder.wait_for(2)
    assert [(m.attachments[0].fetched, m.attachments[0].data) for m in asked] == [(False, b"")] * 2
    assert (first.attachments[0].fetched, first.attachments[0].data) == (False, b"")
    assert first.attachments[0].kind is AttachmentKind.PHOTO
    assert (second.attachments[0].fetched, second.attachments[0].data) == (True, PNG)


async def test_plain_rooms_get_plain_files_and_voice_is_other(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    member = await kit.person("member", tmp_path)
    created = await member.client.room_create(name="group", invite=[bot.user_id])
    room_id = str(created.room_id)
    await member.wait_for_member(room_id, bot)
    chat = Address(Platform.MATRIX, room_id)
    assert not await bot.messenger.is_encrypted(chat)

    await bot.messenger.send_file(chat, "list.csv", b"a,b\n", "text/csv")
    await member.until(lambda: bool(member.from_sender(room_id, bot.user_id)), "the file")
    [event] = member.from_sender(room_id, bot.user_id)
    content = event.source["content"]
    assert "file" not in content and content["url"].startswith("mxc://")

    await member.client.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.audio", "body": "voice", "url": "mxc://localhost/never-fetched"},
    )
    plain = b"%PDF-1.4 plain"
    uploaded, _ = await member.client.upload(
        lambda _a, _b: plain, content_type="application/pdf", filesize=len(plain)
    )
    await member.client.room_send(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.file",
            "body": "doc.pdf",
            "url": uploaded.content_uri,
            "info": {"mimetype": "application/pdf", "size": len(plain)},
        },
    )
    voice, document = await recorder.wait_for(2)
    assert voice.attachments[0].kind is AttachmentKind.OTHER and not voice.room_encrypted
    assert document.attachments[0].kind is AttachmentKind.DOCUMENT
    assert document.attachments[0].data == plain

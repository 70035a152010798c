"""Messages the bot cannot decrypt: wait for the late key, else ask for a resend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from handlers.i18n import render
from tests.matrix.peers import BotKit, Peer, Recorder, wait_until

RESEND = "I could not decrypt your last message. Please send it again."


async def send_with_unshared_key(kit: BotKit, peer: Peer, room_id: str, text: str) -> str:
    """An m.room.encrypted event whose megolm session the bot was never given."""
    olm = peer.client.olm
    assert olm is not None
    olm.create_outbound_group_session(room_id)
    session = olm.outbound_group_sessions[room_id]
    session.shared = True  # nio only encrypts with a shared session…
    content = olm.group_encrypt(
        room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}}
    )
    session.shared = False  # …and shares this one with the room only when told to
    answer = await asyncio.to_thread(
        kit.server.request,
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.encrypted/{uuid.uuid4().hex}",
        content,
        peer.client.access_token,
    )
    return str(answer["event_id"])


async def test_undecryptable_message_gets_a_resend_request(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    assert bot.client is not None
    defender = await kit.person("defender", tmp_path)
    kit.accounts.languages[f"matrix:{defender.user_id}"] = "fr"
    room_id = await defender.open_dm(bot)

    await send_with_unshared_key(kit, defender, room_id, "lost words")
    await wait_until(lambda: kit.timer.started == 1, "the bot to wait for the key")
    session_id = defender.client.olm.outbound_group_sessions[room_id].id
    assert session_id in bot.client.outgoing_key_requests  # the key was requested
    assert recorder.messages == []

    kit.timer.expire()  # the grace period runs out
    expected = render("fr", RESEND)
    await defender.until(lambda: expected in defender.bodies(room_id, bot.user_id), "the request")
    assert recorder.messages == []

    # The defender sends again; that arrives (and the old event is not delivered late).
    await defender.say(room_id, "words again")
    [msg] = await recorder.wait_for(1)
    assert msg.text == "words again"
    await defender.sync()
    assert defender.bodies(room_id, bot.user_id).count(expected) == 1
    assert [m.text for m in recorder.messages] == ["words again"]


async def send_with_late_key(
    kit: BotKit, peer: Peer, room_id: str, text: str
) -> Callable[[], Awaitable[None]]:
    """Encrypt with a fresh session whose key (at index 0) is held back; returns its sender."""
    client, olm = peer.client, peer.client.olm
    assert olm is not None
    missing = client.get_missing_sessions(room_id)
    if missing:
        await client.keys_claim(missing)
    olm.create_outbound_group_session(room_id)
    users = list(client.rooms[room_id].users)
    held = [d for _w, d in olm.share_group_session_parallel(room_id, users, True)]
    assert held, "the bot's device should be among the recipients"
    olm.outbound_group_sessions[room_id].shared = True
    content = olm.group_encrypt(
        room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}}
    )
    await asyncio.to_thread(
        kit.server.request,
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.encrypted/{uuid.uuid4().hex}",
        content,
        client.access_token,
    )

    async def deliver_key() -> None:
        for to_device in held:
            await asyncio.to_thread(
                kit.server.request,
                "PUT",
                f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{uuid.uuid4().hex}",
                to_device,
                client.access_token,
            )

    return deliver_key


async def test_a_late_room_key_is_waited_for(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)

    deliver_key = await send_with_late_key(kit, defender, room_id, "first")
    await wait_until(lambda: kit.timer.started == 1, "the bot to wait for the key")
    # A later message of the same session waits its turn behind the first.
    await defender.say(room_id, "second")

    await deliver_key()  # late, as after a to-device hiccup; the timer never runs out
    messages = await recorder.wait_for(2)
    assert [m.text for m in messages] == ["first", "second"]
    assert all(m.room_encrypted for m in messages)
    await defender.sync()
    assert defender.bodies(room_id, bot.user_id) == []  # no resend request
    assert bot.client is not None

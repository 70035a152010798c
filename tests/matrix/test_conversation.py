"""A defender talks to the bot in an encrypted direct room (real Synapse, real E2EE)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from handlers.messages import Address, Option, Platform
from handlers.messenger import DestinationGone
from tests.matrix.peers import MEGOLM, BotKit, Recorder


async def test_encrypted_direct_message_round_trip(
    kit: BotKit, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.transports")
    recorder = Recorder()
    bot = await kit.start(recorder)
    defender = await kit.person("defender", tmp_path)

    room_id = await defender.open_dm(bot)
    await defender.say(room_id, "hello")
    [msg] = await recorder.wait_for(1)

    assert msg.text == "hello"
    assert msg.chat == Address(Platform.MATRIX, room_id)
    assert msg.sender == Address(Platform.MATRIX, defender.user_id)
    assert msg.is_private and msg.room_encrypted
    assert msg.message_id and msg.message_id.startswith("$")
    assert msg.attachments == ()

    sent = await bot.messenger.send_text(msg.chat, "<b>hi</b> back", reply_to=msg.message_id)
    await defender.until(lambda: bool(defender.bodies(room_id, bot.user_id)), "the reply")
    [reply] = defender.from_sender(room_id, bot.user_id)
    assert reply.decrypted
    assert reply.event_id == sent.message_id
    content = reply.source["content"]
    assert content["body"] == "<b>hi</b> back"
    assert "formatted_body" not in content and "format" not in content
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == msg.message_id
    assert await bot.messenger.is_encrypted(msg.chat)

    # The bot's own reply is not delivered back to it: the next message is the defender's.
    await defender.say(room_id, "second")
    messages = await recorder.wait_for(2)
    assert [m.text for m in messages] == ["hello", "second"]

    # Nothing identifying reaches the logs: no bodies, user ids, room ids or tokens.
    logged = caplog.text
    assert logged  # the transport does log (types and counts)
    for secret in ("hello", "hi back", defender.user_id, bot.user_id, room_id, kit.password):
        assert secret not in logged
    assert bot.client is not None and bot.client.access_token not in logged


async def test_ask_renders_a_numbered_list(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    chat = Address(Platform.MATRIX, room_id)

    await bot.messenger.ask(
        chat, "How urgent is it?", [Option("hours", "Hours"), Option("days", "Days")]
    )
    await defender.until(lambda: bool(defender.bodies(room_id, bot.user_id)), "the question")
    assert defender.bodies(room_id, bot.user_id) == [
        "How urgent is it?\n\n1. Hours\n2. Days\nAnswer with the number or the word."
    ]

    # The answer comes back as plain text; the handlers resolve "2".
    await defender.say(room_id, "2")
    [answer] = await recorder.wait_for(1)
    assert answer.text == "2" and answer.choice is None


async def test_invites_are_joined_and_groups_are_not_private(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    advisor = await kit.person("advisor", tmp_path)
    member = await kit.person("member", tmp_path)
    created = await advisor.client.room_create(
        name="triage",
        invite=[bot.user_id, member.user_id],
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": MEGOLM},
            }
        ],
    )
    room_id = str(created.room_id)
    await member.join(room_id)
    await advisor.wait_for_member(room_id, bot)
    await advisor.until(lambda: member.user_id in advisor.client.rooms[room_id].users, "the member")

    await advisor.say(room_id, "!cases")
    [msg] = await recorder.wait_for(1)
    assert msg.text == "!cases" and not msg.is_private and msg.room_encrypted


async def test_a_person_is_reached_in_a_new_encrypted_direct_room(
    kit: BotKit, tmp_path: Path
) -> None:
    bot = await kit.start(Recorder())
    coordinator = await kit.person("coordinator", tmp_path)
    person = Address(Platform.MATRIX, coordinator.user_id)
    assert await bot.messenger.is_encrypted(person)

    sent = await bot.messenger.send_text(person, "Case C-7K4QM2 needs you.")
    room_id = await bot.messenger.dms.room_of(coordinator.user_id)
    assert room_id is not None
    await coordinator.join(room_id)
    await coordinator.until(
        lambda: bool(coordinator.bodies(room_id, bot.user_id)), "the escalation"
    )
    [event] = coordinator.from_sender(room_id, bot.user_id)
    assert event.decrypted and event.event_id == sent.message_id
    assert event.source["content"]["body"] == "Case C-7K4QM2 needs you."

    # The same room is used next time.
    await bot.messenger.send_text(person, "Second.")
    assert await bot.messenger.dms.room_of(coordinator.user_id) == room_id
    await coordinator.until(
        lambda: "Second." in coordinator.bodies(room_id, bot.user_id), "the second"
    )


async def test_edit_and_delete(kit: BotKit, tmp_path: Path) -> None:
    bot = await kit.start(Recorder())
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    chat = Address(Platform.MATRIX, room_id)

    sent = await bot.messenger.send_text(chat, "draft")
    assert await bot.messenger.edit_text(chat, sent.message_id, "final")
    await defender.until(lambda: len(defender.from_sender(room_id, bot.user_id)) == 2, "edit")
    edit = defender.from_sender(room_id, bot.user_id)[1].source["content"]
    assert edit["m.new_content"] == {"msgtype": "m.text", "body": "final"}
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": sent.message_id}

    assert await bot.messenger.delete_message(chat, sent.message_id)
    redacted = await asyncio.to_thread(
        kit.server.request,
        "GET",
        f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(sent.message_id)}",
        None,
        defender.client.access_token,
    )
    assert redacted["content"] == {}


async def test_a_new_device_does_not_answer_old_history(kit: BotKit, tmp_path: Path) -> None:
    recorder = Recorder()
    bot = await kit.start(recorder)
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    await defender.say(room_id, "old")
    await recorder.wait_for(1)
    await kit.stop(bot)

    shutil.rmtree(kit.store_dir)  # a new device: the old history is unreadable to it
    fresh = Recorder()
    bot = await kit.start(fresh)
    assert bot.client is not None
    await defender.until(
        lambda: any(
            d.device_id == bot.client.device_id  # type: ignore[union-attr]
            for d in defender.client.device_store.active_user_devices(bot.user_id)
        ),
        "the new device",
    )
    await defender.say(room_id, "new")
    [msg] = await fresh.wait_for(1)
    assert msg.text == "new"
    await defender.sync()
    assert defender.bodies(room_id, bot.user_id) == []  # no resend requests for history
    assert kit.timer.started == 0


async def test_a_new_login_joins_invites_that_waited(kit: BotKit, tmp_path: Path) -> None:
    defender = await kit.person("defender", tmp_path)
    created = await defender.client.room_create(
        is_direct=True,
        invite=[kit.user_id],
        initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    )
    room_id = str(created.room_id)
    recorder = Recorder()
    bot = await kit.start(recorder)  # its first sync: no history, but the invite
    await defender.wait_for_member(room_id, bot)
    await defender.say(room_id, "are you there?")
    [msg] = await recorder.wait_for(1)
    assert msg.is_private and msg.text == "are you there?"


async def test_a_person_who_does_not_exist_is_gone(kit: BotKit) -> None:
    bot = await kit.start(Recorder())
    nobody = Address(Platform.MATRIX, f"@nobody-{kit.user_id[1:9]}:localhost")
    with pytest.raises(DestinationGone):
        await bot.messenger.send_text(nobody, "hello?")
    assert kit.accounts.inactive == [str(nobody)]
    assert await bot.messenger.dms.room_of(nobody.id) is None

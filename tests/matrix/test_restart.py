"""Restarts keep the device, its keys and every message; a lost store is refused."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from bot.transports.matrix_state import (
    CREDENTIALS,
    MatrixStartError,
    MatrixStoreLost,
    crypto_store_path,
)
from tests.matrix.peers import BotKit, Recorder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_restart_reuses_the_device_and_catches_up(
    kit: BotKit, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.transports")
    first = Recorder()
    # A timeline of two events per sync: the catch-up has to fetch the gap itself.
    bot = await kit.start(first, timeline_limit=2)
    assert bot.client is not None
    device_id = bot.client.device_id
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    await defender.say(room_id, "before")
    await first.wait_for(1)

    credentials = kit.store_dir / CREDENTIALS
    assert mode(kit.store_dir) == 0o700
    assert mode(credentials) == 0o600
    assert mode(crypto_store_path(kit.store_dir, kit.user_id, device_id)) == 0o600
    assert json.loads(credentials.read_text())["device_id"] == device_id

    await kit.stop(bot)  # never logs out: the device and its keys stay
    while_down = [f"while down {n}" for n in range(5)]
    for text in while_down:
        await defender.say(room_id, text)

    second = Recorder()
    bot = await kit.start(second, timeline_limit=2)
    assert bot.client is not None
    assert bot.client.device_id == device_id
    messages = await second.wait_for(len(while_down))
    assert [m.text for m in messages] == while_down  # in order, each once
    assert all(m.room_encrypted for m in messages)
    assert "Matrix gap filled: 3 events" in caplog.text

    await defender.say(room_id, "after")
    messages = await second.wait_for(len(while_down) + 1)
    assert messages[-1].text == "after"

    # And the bot's own messages still reach the defender.
    await bot.messenger.send_text(messages[-1].chat, "still here")
    await defender.until(lambda: "still here" in defender.bodies(room_id, bot.user_id), "reply")

    # Handled events are not handled again after another restart.
    await kit.stop(bot)
    third = Recorder()
    bot = await kit.start(third, timeline_limit=2)
    await defender.say(room_id, "last")
    [only] = await third.wait_for(1)
    assert only.text == "last"


async def test_a_lost_store_is_refused_with_one_clear_line(kit: BotKit) -> None:
    bot = await kit.start(Recorder())
    assert bot.client is not None
    device_id = bot.client.device_id
    await kit.stop(bot)
    crypto_store_path(kit.store_dir, kit.user_id, device_id).unlink()

    with pytest.raises(MatrixStoreLost) as raised:
        await kit.start(Recorder())
    message = str(raised.value)
    assert "\n" not in message
    assert f"the Matrix store at {kit.store_dir} is missing for device {device_id}" in message
    assert "cannot be decrypted" in message
    assert "restore the store from backup" in message
    assert str(kit.store_dir / CREDENTIALS) in message
    with pytest.raises(MatrixStoreLost):
        await kit.transport().check()

    # Following the advice (delete credentials.json) gives a new, working device.
    (kit.store_dir / CREDENTIALS).unlink()
    bot = await kit.start(Recorder())
    assert bot.client is not None and bot.client.device_id != device_id
    assert "logged in as device" in await bot.check()


async def test_a_wrong_password_is_one_line(kit: BotKit) -> None:
    kit.password = "not the password"
    with pytest.raises(MatrixStartError, match=r"^Matrix login failed: M_FORBIDDEN$"):
        await kit.start(Recorder())
    assert not (kit.store_dir / CREDENTIALS).exists()

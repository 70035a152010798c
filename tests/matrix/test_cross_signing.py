"""The bot cross-signs its own device, so Element (MSC4153) talks to it."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.transports.matrix_crosssign import SEEDS_SECRET, Seeds, public_of, verify_json
from tests.matrix.peers import BotKit, MemorySecrets, Recorder


def _only(keys: dict[str, Any]) -> tuple[str, str]:
    [(key_id, public)] = keys.items()
    return key_id, public


def assert_chain(answer: dict[str, Any], user_id: str, device_id: str) -> str:
    """device ← self-signing key ← master key, every ed25519 signature checked."""
    master = answer["master_keys"][user_id]
    master_id, master_public = _only(master["keys"])
    assert master["usage"] == ["master"] and master_id == f"ed25519:{master_public}"

    ssk = answer["self_signing_keys"][user_id]
    ssk_id, ssk_public = _only(ssk["keys"])
    assert ssk["usage"] == ["self_signing"]
    assert verify_json(master_public, ssk, ssk["signatures"][user_id][master_id])

    device = answer["device_keys"][user_id][device_id]
    device_public = device["keys"][f"ed25519:{device_id}"]
    signatures = device["signatures"][user_id]
    assert verify_json(device_public, device, signatures[f"ed25519:{device_id}"])
    assert verify_json(ssk_public, device, signatures[ssk_id])

    # A forged signature is refused: the check is real.
    assert not verify_json(ssk_public, {**device, "device_id": "FORGED"}, signatures[ssk_id])
    return master_public


def assert_device_vouches_for_master(answer: dict[str, Any], user_id: str, device_id: str) -> None:
    """The device signed the master key back (Synapse shows that to the owner only)."""
    master = answer["master_keys"][user_id]
    device_public = answer["device_keys"][user_id][device_id]["keys"][f"ed25519:{device_id}"]
    signature = master["signatures"][user_id][f"ed25519:{device_id}"]
    assert verify_json(device_public, master, signature)


async def query_keys(kit: BotKit, token: str, user_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(
        kit.server.request,
        "POST",
        "/_matrix/client/v3/keys/query",
        {"device_keys": {user_id: []}},
        token,
    )


async def test_device_is_cross_signed_and_stays_so(kit: BotKit, tmp_path: Path) -> None:
    bot = await kit.start(Recorder())
    assert bot.client is not None
    first_device = bot.client.device_id
    assert bot.cross_signing == "created"
    seeds = Seeds.from_bytes(kit.secrets.values[SEEDS_SECRET])

    other = await kit.person("advisor", tmp_path)
    answer = await query_keys(kit, other.client.access_token, bot.user_id)
    master = assert_chain(answer, bot.user_id, first_device)
    assert master == public_of(seeds.master)
    assert_device_vouches_for_master(
        await query_keys(kit, bot.client.access_token, bot.user_id), bot.user_id, first_device
    )

    # A restart finds everything in place.
    await kit.stop(bot)
    bot = await kit.start(Recorder())
    assert bot.cross_signing == "already signed"

    # A new device (store and login thrown away) is signed with the kept keys.
    await kit.stop(bot)
    shutil.rmtree(kit.store_dir)
    bot = await kit.start(Recorder())
    assert bot.client is not None
    assert bot.client.device_id != first_device
    assert bot.cross_signing == "signed"
    answer = await query_keys(kit, other.client.access_token, bot.user_id)
    assert assert_chain(answer, bot.user_id, bot.client.device_id) == master
    assert_device_vouches_for_master(
        await query_keys(kit, bot.client.access_token, bot.user_id),
        bot.user_id,
        bot.client.device_id,
    )


async def test_foreign_cross_signing_keys_warn_once_and_carry_on(
    kit: BotKit, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await kit.start(Recorder())
    await kit.stop(bot)
    # Someone else holds the account's keys now: the bot lost its seeds and its device.
    kit.secrets = MemorySecrets()
    shutil.rmtree(kit.store_dir)
    caplog.set_level(logging.WARNING, logger="bot.transports")
    recorder = Recorder()
    bot = await kit.start(recorder)
    assert bot.cross_signing == "foreign"
    warnings = [r for r in caplog.records if "cross-signing keys" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()

    # It still works with clients that do not insist on cross-signing.
    defender = await kit.person("defender", tmp_path)
    room_id = await defender.open_dm(bot)
    await defender.say(room_id, "still there?")
    [msg] = await recorder.wait_for(1)
    assert msg.text == "still there?"

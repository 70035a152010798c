"""Room keys go only to devices their owners cross-signed (MSC4153, sending side).

On a real Synapse, with real E2EE clients that cross-sign themselves the way
Element does: an advisor's verified session reads the next case card, a
second session they never verified cannot, and the room is told once,
without content, what to do about it. Verifying that session later lets it
read what follows (the bot re-checks when the device list changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nio import MegolmEvent

from bot.transports.matrix_crosssign import Seeds, b64, cross_signing_key, public_of, sign_json
from bot.transports.matrix_trust import ROOM_NOTICE, cross_signed_devices
from handlers.messages import Address, Platform
from tests.matrix.peers import BotKit, Peer, Recorder, cross_sign, wait_until

pytestmark = pytest.mark.synapse


def undecrypted(peer: Peer, room_id: str) -> list[MegolmEvent]:
    return [e for r, e in peer._undecrypted if r == room_id]


def cards(peer: Peer, room_id: str, sender: str) -> list[str]:
    return [b for b in peer.bodies(room_id, sender) if b.startswith("C-")]


def notices(peer: Peer, room_id: str, sender: str) -> list[Any]:
    return [
        e
        for r, e in peer.events
        if r == room_id
        and e.sender == sender
        and e.source.get("content", {}).get("msgtype") == "m.notice"
    ]


async def test_an_unverified_second_session_cannot_read_the_next_card(
    kit: BotKit, tmp_path: Path
) -> None:
    bot = await kit.start(Recorder())
    assert bot.client is not None
    advisor = await kit.person("advisor", tmp_path)  # cross-signed, as Element does
    room_id = await advisor.open_dm(bot, direct=False)  # the triage room
    assert room_id.startswith("!") and ":" not in room_id and len(room_id) == 44  # version 12
    triage = Address(Platform.MATRIX, room_id)
    await bot.messenger.send_text(triage, "C-100001 first card")
    await advisor.until(lambda: "C-100001 first card" in advisor.bodies(room_id, bot.user_id), "1")

    laptop = await kit.second_device(advisor, tmp_path, "advisor-laptop")  # never verified
    laptop_id = laptop.client.device_id
    await laptop.until(lambda: room_id in laptop.client.rooms, "the laptop to see the room")
    await wait_until(
        lambda: any(
            d.id == laptop_id
            for d in bot.client.device_store.active_user_devices(advisor.user_id)  # type: ignore[union-attr]
        ),
        "the bot to learn of the new session",
    )

    await bot.messenger.send_text(triage, "C-100002 the next card")
    await bot.messenger.send_text(triage, "C-100003 and another")
    await advisor.until(
        lambda: "C-100003 and another" in advisor.bodies(room_id, bot.user_id), "the cards"
    )
    assert cards(advisor, room_id, bot.user_id) == [
        "C-100001 first card",
        "C-100002 the next card",
        "C-100003 and another",
    ]
    # The laptop sees the encrypted events and the notice, and can decrypt no card.
    await laptop.until(lambda: len(undecrypted(laptop, room_id)) >= 2, "the encrypted cards")
    await laptop.sync()
    assert laptop.bodies(room_id, bot.user_id) == [
        n.source["content"]["body"] for n in notices(laptop, room_id, bot.user_id)
    ]
    assert not any("C-10000" in body for body in laptop.bodies(room_id, bot.user_id))
    # One notice, without content, naming the person and what to do.
    [notice] = notices(advisor, room_id, bot.user_id)
    body = notice.source["content"]["body"]
    assert body == ROOM_NOTICE.format(person=advisor.user_id)
    assert "C-" not in body and "card" not in body
    assert "m.room.encrypted" not in str(notice.source.get("type"))

    # Verified from the first session (cross-signed): the next card reaches the laptop too.
    await cross_sign(laptop, advisor.seeds)
    await wait_until(
        lambda: (
            any(
                d.id == laptop_id and bot.client.olm.is_device_verified(d)  # type: ignore[union-attr]
                for d in bot.client.device_store.active_user_devices(advisor.user_id)  # type: ignore[union-attr]
            )
            or not bot.messenger.trust.verdicts.get(advisor.user_id)
        ),
        "the bot to hear of the signature",
    )
    await bot.messenger.send_text(triage, "C-100004 after verification")
    await laptop.until(
        lambda: "C-100004 after verification" in laptop.bodies(room_id, bot.user_id),
        "the laptop to read the card after verification",
    )
    assert len(notices(advisor, room_id, bot.user_id)) == 1  # still one notice


async def test_a_defender_with_no_verified_session_is_told_in_their_language(
    kit: BotKit, tmp_path: Path
) -> None:
    bot = await kit.start(Recorder())
    defender = await kit.person(
        "defender", tmp_path, signed=False
    )  # a client without cross-signing
    kit.accounts.languages[f"matrix:{defender.user_id}"] = "es"
    room_id = await defender.open_dm(bot)
    await bot.messenger.send_text(Address(Platform.MATRIX, defender.user_id), "Caso C-200001")
    await defender.until(lambda: notices(defender, room_id, bot.user_id), "the notice")
    await defender.until(lambda: undecrypted(defender, room_id), "the encrypted answer")
    [notice] = notices(defender, room_id, bot.user_id)
    body = notice.source["content"]["body"]
    assert "sesiones" in body and "C-200001" not in body
    assert defender.bodies(room_id, bot.user_id) == [body]  # the answer itself stays unreadable


def test_the_chain_is_checked_link_by_link() -> None:
    user = "@ana:example.org"
    seeds, other = Seeds.generate(), Seeds.generate()
    device_key = Ed25519PrivateKey.generate()
    device_public = b64(device_key.public_key().public_bytes_raw())

    def device(signers: list[tuple[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "user_id": user,
            "device_id": "DEV",
            "algorithms": [],
            "keys": {"ed25519:DEV": device_public, "curve25519:DEV": "x"},
        }
        body["signatures"] = {user: {f"ed25519:{name}": sign_json(k, body) for name, k in signers}}
        return body

    def answer(master: Seeds, ssk_signer: Seeds, dev: dict[str, Any]) -> dict[str, Any]:
        ssk = cross_signing_key(user, "self_signing", public_of(master.self_signing))
        ssk["signatures"] = {
            user: {
                f"ed25519:{public_of(ssk_signer.master)}": sign_json(
                    ssk_signer.key(ssk_signer.master), ssk
                )
            }
        }
        return {
            "master_keys": {user: cross_signing_key(user, "master", public_of(master.master))},
            "self_signing_keys": {user: ssk},
            "device_keys": {user: {"DEV": dev}},
        }

    ssk_pub = public_of(seeds.self_signing)
    good = device([("DEV", device_key), (ssk_pub, seeds.key(seeds.self_signing))])
    assert cross_signed_devices(user, answer(seeds, seeds, good)) == {"DEV": device_public}
    # The self-signing key signed by another master key: nothing verifies.
    assert cross_signed_devices(user, answer(seeds, other, good)) == {}
    # A device signed only by itself, or by a key that is not the self-signing key.
    assert cross_signed_devices(user, answer(seeds, seeds, device([("DEV", device_key)]))) == {}
    forged = device([("DEV", device_key), (ssk_pub, other.key(other.self_signing))])
    assert cross_signed_devices(user, answer(seeds, seeds, forged)) == {}
    # No cross-signing keys at all.
    assert cross_signed_devices(user, {"device_keys": {user: {"DEV": good}}}) == {}

"""The whole bot on a real Synapse: a defender's encrypted direct room to a
case card that an advisor decrypts in the encrypted triage room, across a
bot restart, with the same handlers as Telegram."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.app import App
from bot.transports.matrix import MatrixTransport
from handlers.clock import FakeClock
from tests.matrix.apps import (
    answer,
    matrix_config,
    report_to_summary,
    same_device_sends_the_card,
    sos,
)
from tests.matrix.apps import start_app as start_on_synapse
from tests.matrix.peers import BotKit, Peer

KEY = base64.b64encode(b"s" * 32).decode()


async def start_app(kit: BotKit, path: Path, triage: str, advisor: Peer, clock: FakeClock) -> App:
    advisory = f'rooms = ["matrix:{triage}"]\nadvisors = ["matrix:{advisor.user_id}"]'
    config = matrix_config(kit, path, advisory)
    return await start_on_synapse(kit, config, clock, key=KEY)


def bot_of(app: App) -> MatrixTransport:
    transport = app.transports[0]
    assert isinstance(transport, MatrixTransport)
    return transport


async def test_encrypted_report_to_card_across_a_restart(kit: BotKit, tmp_path: Path) -> None:
    advisor = await kit.person("advisor", tmp_path)
    triage = await advisor.new_room("Triage", [kit.user_id])
    clock = FakeClock()
    app = await start_app(kit, tmp_path, triage, advisor, clock)
    try:
        bot = bot_of(app)
        assert bot.cross_signing in ("created", "already signed")
        await advisor.wait_for_member(triage, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)

        urgency = await report_to_summary(defender, dm, bot, "Armed men came to <b>our</b> office")
        assert "1. Immediate danger (hours)" in urgency, "choices are a numbered list"

        # The bot restarts with the summary open: same device, same sessions.
        device = bot.client.device_id if bot.client else None
        await app.stop()
        app = await start_app(kit, tmp_path, triage, advisor, clock)
        text = await same_device_sends_the_card(app, device, defender, dm, advisor, triage)
        assert "Armed men came to <b>our</b> office" in text and "Tunis" in text
    finally:
        await app.stop()


async def test_triage_and_relay_both_ways_on_synapse(kit: BotKit, tmp_path: Path) -> None:
    advisor = await kit.person("advisor", tmp_path)
    triage = await advisor.new_room("Triage", [kit.user_id])
    app = await start_app(kit, tmp_path, triage, advisor, FakeClock())
    try:
        bot = bot_of(app)
        await advisor.wait_for_member(triage, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)
        ref = await sos(defender, dm, bot, "they are outside the house")
        ack = await answer(advisor, triage, bot, f"!ack {ref.lower()}", "acknowledged")
        assert ref in ack
        await answer(
            advisor, triage, bot, f"!ask {ref} Can you leave by the back door?", "On its way to"
        )
        question = await answer(defender, dm, bot, "!status", "Your cases")  # any turn; then look
        assert ref in question
        asked = [b for b in defender.bodies(dm, bot.user_id) if "back door" in b]
        assert asked and "advisory group" in asked[0] and advisor.user_id not in asked[0]
        # The defender's answer goes to the triage room under the reference.
        await defender.say(dm, "Yes, we are leaving now.")

        def relayed() -> list[str]:
            return [b for b in advisor.bodies(triage, bot.user_id) if "leaving now" in b]

        await advisor.until(lambda: bool(relayed()), "the relayed answer")
        assert ref in relayed()[0] and defender.user_id not in relayed()[0]
        # A stranger in the triage room is refused, learning nothing.
        stranger = await kit.person("stranger", tmp_path)
        refusal = await answer(
            stranger, await stranger.open_dm(bot), bot, f"!case {ref}", "advisory group"
        )
        assert ref not in refusal and "outside" not in refusal
    finally:
        await app.stop()

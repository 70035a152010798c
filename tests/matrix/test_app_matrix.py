"""The whole bot on a real Synapse: a defender's encrypted direct room to a
case card that an advisor decrypts in the encrypted triage room, across a
bot restart, with the same handlers as Telegram."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from bot.app import App
from bot.config import load_secrets, parse_config
from bot.transports.matrix import MatrixOptions, MatrixTransport
from handlers.clock import FakeClock
from handlers.services import Services
from tests.matrix.peers import MEGOLM, BotKit, Peer, SendPolicy

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
KEY = base64.b64encode(b"s" * 32).decode()


async def start_app(kit: BotKit, path: Path, triage: str, advisor: Peer, clock: FakeClock) -> App:
    config = parse_config(
        f"""
[matrix]
enabled = true
homeserver = "{kit.server.base_url}"
user_id = "{kit.user_id}"
store_dir = "{kit.store_dir}"
[advisory]
rooms = ["matrix:{triage}"]
advisors = ["matrix:{advisor.user_id}"]
""",
        path,
    )
    secrets = load_secrets(
        config, {"SOSBOT_MASTER_KEY": KEY, "SOSBOT_MATRIX_PASSWORD": kit.password}
    )
    options = MatrixOptions(sync_timeout_ms=200, send=SendPolicy(network_delay=0.05))

    def transports(services: Services) -> list[MatrixTransport]:
        return [MatrixTransport.from_config(config, kit.password, services, options)]

    app = await App.build(config, secrets, clock, transports=transports)  # type: ignore[arg-type]
    await app.start()
    return app


def bot_of(app: App) -> MatrixTransport:
    transport = app.transports[0]
    assert isinstance(transport, MatrixTransport)
    return transport


async def answer(peer: Peer, room: str, bot: MatrixTransport, text: str, expect: str) -> str:
    """Say ``text`` and wait for a bot message containing ``expect``; return it."""
    before = len(peer.bodies(room, bot.user_id))
    await peer.say(room, text)
    found: list[str] = []

    def arrived() -> bool:
        found[:] = [b for b in peer.bodies(room, bot.user_id)[before:] if expect in b]
        return bool(found)

    await peer.until(arrived, f"a bot message with {expect!r}")
    return found[0]


async def test_encrypted_report_to_card_across_a_restart(kit: BotKit, tmp_path: Path) -> None:
    advisor = await kit.person("advisor", tmp_path)
    created = await advisor.client.room_create(
        name="Triage",
        invite=[kit.user_id],
        initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    )
    triage = str(created.room_id)  # type: ignore[union-attr]
    clock = FakeClock()
    app = await start_app(kit, tmp_path, triage, advisor, clock)
    try:
        bot = bot_of(app)
        assert bot.cross_signing in ("created", "already signed")
        await advisor.wait_for_member(triage, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)

        await answer(defender, dm, bot, "!report", "What is happening?")
        await answer(defender, dm, bot, "Armed men came to <b>our</b> office", "Noted")
        await answer(defender, dm, bot, "done", "Where is this happening?")
        await answer(defender, dm, bot, "Tunis", "Who is at risk?")
        urgency = await answer(defender, dm, bot, "the women's collective", "How urgent")
        assert "1. Immediate danger (hours)" in urgency, "choices are a numbered list"
        await answer(defender, dm, bot, "1", "What may the network do")
        await answer(defender, dm, bot, "advisory group only", "safe way")
        await answer(defender, dm, bot, "skip", "Please check your report")

        # The bot restarts with the summary open: same device, same sessions.
        device = bot.client.device_id if bot.client else None
        await app.stop()
        app = await start_app(kit, tmp_path, triage, advisor, clock)
        bot = bot_of(app)
        assert bot.client is not None and bot.client.device_id == device

        receipt = await answer(defender, dm, bot, "1", "case reference")
        match = REF.search(receipt)
        assert match, receipt
        ref = match.group(0)

        def card() -> list[str]:
            return [b for b in advisor.bodies(triage, bot.user_id) if ref in b and "New case" in b]

        await advisor.until(lambda: bool(card()), "the case card")
        text = card()[0]
        assert "Armed men came to <b>our</b> office" in text and "Tunis" in text
        messages = advisor.from_sender(triage, bot.user_id)
        assert messages and all(getattr(e, "decrypted", False) for e in messages), "only encrypted"
    finally:
        await app.stop()


async def test_triage_and_relay_both_ways_on_synapse(kit: BotKit, tmp_path: Path) -> None:
    advisor = await kit.person("advisor", tmp_path)
    created = await advisor.client.room_create(
        name="Triage",
        invite=[kit.user_id],
        initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    )
    triage = str(created.room_id)  # type: ignore[union-attr]
    app = await start_app(kit, tmp_path, triage, advisor, FakeClock())
    try:
        bot = bot_of(app)
        await advisor.wait_for_member(triage, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)
        alert = await answer(
            defender, dm, bot, "!sos they are outside the house", "saved under the reference"
        )
        ref_match = REF.search(alert)
        assert ref_match
        ref = ref_match.group(0)
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

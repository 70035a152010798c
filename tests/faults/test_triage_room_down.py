"""The triage room failing for 5 minutes on Telegram (issue 12, item 6): the
card arrives when the room comes back, and the defender is told the truth
meanwhile. The real bot (App, python-telegram-bot, SQLite) against the fake
Bot API, which refuses every call to the triage group for the span
(``FakeTelegramServer.fail_chat``): a 502 (Telegram's side failing), or a
403 "bot was kicked from the group chat".

How "5 minutes" is represented: the outage ends when the bot's fake clock has
moved 5 minutes past the report, so the bot's deadlines (the 2-minute card
check) fire exactly where they would in those 5 minutes. The outbox retries
the card on its own backoff, in real seconds (tuned short here), as often as
it likes while the fake clock stands still; however many refusals that makes,
none of them delivers.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_secrets, parse_config
from bot.transports.matrix import MatrixOptions, MatrixTransport
from bot.transports.telegram import TelegramTransport
from handlers.clock import FakeClock
from handlers.services import Services
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser
from tests.matrix.conftest import _bot_kit as bot_kit
from tests.matrix.peers import BotKit, SendPolicy
from tests.matrix.test_defender_matrix import room
from tests.servers.synapse import SynapseServer
from tests.telegram.conftest import TOKEN, fake_bot_api, start_app

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
MASTER_KEY = base64.b64encode(b"o" * 32).decode()
CONTACT = "Emergency line: +57 300 000 0000"
QUICK = {"backoff": 0.05, "backoff_cap": 0.5, "poll_interval": 0.05}
OUTAGE = timedelta(minutes=5)
FAILURES = {
    "telegram 502": (502, "Bad Gateway"),
    "telegram 403": (403, "Forbidden: bot was kicked from the group chat"),
}


async def bot_with_a_triage_group(
    server: FakeTelegramServer, path: Path
) -> tuple[App, FakeChat, FakeClock]:
    triage = server.new_group("Advisory group")
    extra = f"""
[advisory]
rooms = ["telegram:{triage.id}"]
allow_content_in_unencrypted_rooms = true
emergency_contact = "{CONTACT}"
"""
    clock = FakeClock()
    app = await start_app(server, path, extra, clock=clock, tune=QUICK)
    return app, triage, clock


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with fake_bot_api() as fake:
        yield fake


def texts_to(server: FakeTelegramServer, chat: FakeChat | FakeUser) -> list[str]:
    return [m.text or "" for m in server.messages_to(chat.id)]


def answered(server: FakeTelegramServer, chat: FakeChat | FakeUser, text: str) -> int:
    """Where, among every request the fake answered, the first accepted message to
    ``chat`` containing ``text`` was."""
    return next(
        n
        for n, r in enumerate(server.requests)
        if r.ok
        and r.method == "sendMessage"
        and str(r.params.get("chat_id")) == str(chat.id)
        and text in str(r.params.get("text"))
    )


@pytest.mark.parametrize("failure", FAILURES)
async def test_the_triage_group_failing_for_5_minutes(
    server: FakeTelegramServer, tmp_path: Path, failure: str
) -> None:
    app, triage, clock = await bot_with_a_triage_group(server, tmp_path)
    try:
        defender = server.new_user("Defender", language_code="en")
        start = clock.now()
        code, description = FAILURES[failure]
        outage = server.fail_chat(
            triage.id, code, description, until=lambda: clock.now() >= start + OUTAGE
        )
        server.user_sends(defender, defender, "/sos armed men at the gate of the office")
        receipt = await server.wait_for_message(
            defender.id, lambda m: "saved under the reference" in (m.text or ""), timeout=30
        )
        found = REF.search(receipt.text or "")
        assert found, receipt.text
        ref = found.group(0)
        # The card was tried and refused (the bot keeps trying; none of it arrives).
        await server.request_notifier.wait_for(lambda: outage.refused >= 2 or None, 30)

        def alerted() -> list[str]:
            return [t for t in texts_to(server, defender) if "has been alerted" in t]

        assert alerted() == [], "no 'alerted' while no room has the card"

        # The 2-minute card check: the truth, with the network's emergency contact.
        await app.scheduler.advance(timedelta(minutes=2))
        truth = await server.wait_for_message(
            defender.id, lambda m: "has not received it yet" in (m.text or ""), timeout=30
        )
        assert ref in (truth.text or "")
        assert f"If you are in danger now, contact: {CONTACT}" in (truth.text or "")
        assert alerted() == []
        assert not [t for t in texts_to(server, triage) if ref in t], "the room had nothing"

        # Minute 4: still down, still refused, still no card and no false "alerted".
        await app.scheduler.advance(timedelta(minutes=2))
        refused = outage.refused
        await server.request_notifier.wait_for(lambda: outage.refused > refused or None, 30)
        assert not [t for t in texts_to(server, triage) if ref in t]
        assert alerted() == []

        # Minute 5: the room is back. The card arrives, once; then the confirmation.
        await app.scheduler.advance(timedelta(minutes=1))
        await server.wait_for_message(
            triage.id, lambda m: f"SOS — new case {ref}" in (m.text or ""), timeout=30
        )
        told = await server.wait_for_message(
            defender.id, lambda m: "has been alerted" in (m.text or ""), timeout=30
        )
        assert (told.text or "").endswith(f"The advisory group has been alerted about {ref}.")
        assert answered(server, triage, ref) < answered(server, defender, "has been alerted"), (
            "the confirmation only after the room took the card"
        )
        # Later deadlines and retries change nothing: one card, one confirmation.
        await app.scheduler.advance(timedelta(minutes=10))
        cards = [t for t in texts_to(server, triage) if f"new case {ref}" in t]
        assert len(cards) == 1, cards
        # A 5xx answer leaves the bot unsure whether the card arrived, so its one copy
        # says it may repeat; a 403 is a clear refusal.
        assert cards[0].startswith("(Sent again") == (code >= 500), cards[0]
        assert len(alerted()) == 1
        truths = [t for t in texts_to(server, defender) if "has not received it yet" in t]
        assert len(truths) == 1, "told once, at the card check"
    finally:
        await app.stop()


# --- Matrix: the homeserver stopped ------------------------------------------------


async def bot_on_both_platforms(
    telegram: FakeTelegramServer, kit: BotKit, path: Path, triage: str
) -> tuple[App, FakeClock]:
    """The defender on Telegram (the fake Bot API), the triage room on Matrix; started."""
    config = parse_config(
        f"""
[telegram]
enabled = true
base_url = "{telegram.base_url}"
[matrix]
enabled = true
homeserver = "{kit.server.base_url}"
user_id = "{kit.user_id}"
store_dir = "{kit.store_dir}"
[advisory]
rooms = ["matrix:{triage}"]
emergency_contact = "{CONTACT}"
""",
        path,
    )
    config.bot.data_dir.mkdir(parents=True, exist_ok=True)
    environ = {
        "SOSBOT_MASTER_KEY": MASTER_KEY,
        "SOSBOT_TELEGRAM_TOKEN": TOKEN,
        "SOSBOT_MATRIX_PASSWORD": kit.password,
    }
    secrets = load_secrets(config, environ)
    options = MatrixOptions(sync_timeout_ms=200, send=SendPolicy(network_delay=0.05))

    def transports(services: Services) -> list[object]:
        return [
            TelegramTransport(TOKEN, services, telegram.base_url, poll_timeout=1),
            MatrixTransport.from_config(config, kit.password, services, options),
        ]

    clock = FakeClock()
    app = await App.build(config, secrets, clock, transports=transports)  # type: ignore[arg-type]
    app.dispatcher.tune(**QUICK)
    await app.start()
    await telegram.wait_until_polling()
    return app, clock


async def test_synapse_stopped_for_5_minutes(
    synapse_server_own: SynapseServer, tmp_path: Path
) -> None:
    """The triage room is an encrypted Matrix room; its homeserver (a real
    Synapse of this test's own) is stopped while a defender reports on
    Telegram, and started again, same port and data, once the bot's fake
    clock has moved 5 minutes. The real time of the outage is only what the
    test takes to move that clock (seconds): the bot's deadlines run on the
    fake clock, and its retries of the card keep failing however often they
    come, until Synapse is back."""
    synapse = synapse_server_own
    kit = await bot_kit(synapse, tmp_path)
    try:
        advisor = await kit.person("advisor", tmp_path)
        triage = await room(advisor, kit, "Triage", encrypted=True)
        async with FakeTelegramServer() as telegram:
            telegram.add_bot(TOKEN)
            defender = telegram.new_user("Defender", language_code="en")
            app, _ = await bot_on_both_platforms(telegram, kit, tmp_path / "bot", triage)
            try:
                bot = next(t for t in app.transports if isinstance(t, MatrixTransport))
                await advisor.wait_for_member(triage, bot)

                def cards(ref: str) -> list[str]:  # (an escalation names the case too)
                    card = f"SOS — new case {ref}"
                    return [b for b in advisor.bodies(triage, bot.user_id) if card in b]

                def alerted() -> list[str]:
                    return [t for t in texts_to(telegram, defender) if "has been alerted" in t]

                await asyncio.to_thread(synapse.halt)
                telegram.user_sends(defender, defender, "/sos armed men at the gate of the office")
                receipt = await telegram.wait_for_message(
                    defender.id, lambda m: "saved under the reference" in (m.text or ""), 30
                )
                found = REF.search(receipt.text or "")
                assert found, receipt.text
                ref = found.group(0)
                assert alerted() == []

                await app.scheduler.advance(timedelta(minutes=2))
                truth = await telegram.wait_for_message(
                    defender.id, lambda m: "has not received it yet" in (m.text or ""), 30
                )
                assert ref in (truth.text or "")
                assert f"If you are in danger now, contact: {CONTACT}" in (truth.text or "")
                await app.scheduler.advance(timedelta(minutes=3))
                assert alerted() == [], "no 'alerted' while the homeserver is down"

                await asyncio.to_thread(synapse.resume)
                told = await telegram.wait_for_message(
                    defender.id, lambda m: "has been alerted" in (m.text or ""), 90
                )
                assert (told.text or "").endswith(
                    f"The advisory group has been alerted about {ref}."
                )
                await advisor.until(lambda: bool(cards(ref)), "the card", seconds=60)
                # Later deadlines and retries change nothing: one card, one confirmation.
                await app.scheduler.advance(timedelta(minutes=10))
                await advisor.sync()
                assert len(cards(ref)) == 1, cards(ref)
                assert len(alerted()) == 1
            finally:
                await app.stop()
            assert telegram.internal_errors == []
    finally:
        await kit.close()

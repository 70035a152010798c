"""The whole bot (``App``) on the test Synapse, alone or beside the fake Telegram,
and what a Matrix person says to it."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

from bot.app import App
from bot.config import Config, load_secrets, parse_config
from bot.transports.matrix import MatrixOptions, MatrixTransport
from bot.transports.matrix_messenger import SendPolicy
from bot.transports.telegram import TelegramTransport
from handlers.clock import FakeClock
from handlers.services import Services
from tests.fakes.telegram.server import FakeTelegramServer
from tests.matrix.peers import SYNC_MS, BotKit, Peer
from tests.telegram.conftest import TOKEN

KEY = base64.b64encode(b"s" * 32).decode()
CASE_REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")


def matrix_config(
    kit: BotKit,
    path: Path,
    advisory: str,
    *,
    telegram_url: str | None = None,
    own_store_dir: bool = True,
) -> Config:
    """The config of ``kit``'s bot with the ``[advisory]`` lines given, and Telegram on
    the fake server at ``telegram_url`` if given. ``own_store_dir=False`` leaves the
    Matrix store where the config puts it by default (under the data folder)."""
    telegram = f'[telegram]\nenabled = true\nbase_url = "{telegram_url}"\n' if telegram_url else ""
    store = f'store_dir = "{kit.store_dir}"\n' if own_store_dir else ""
    text = f"""{telegram}[matrix]
enabled = true
homeserver = "{kit.server.base_url}"
user_id = "{kit.user_id}"
{store}[advisory]
{advisory}
"""
    return parse_config(text, path)


def write_config(
    folder: Path,
    homeserver: str,
    user_id: str,
    *,
    triage: str,
    advisor: str,
    store_dir: Path | str = "data/matrix",
    before: str = "",
) -> Path:
    """``folder/config.toml`` of a bot on Matrix only, as an operator writes it: the
    ``before`` sections (TOML) first, then the account, one triage room, one advisor."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"""{before}
[matrix]
enabled = true
homeserver = "{homeserver}"
user_id = "{user_id}"
store_dir = "{store_dir}"
[advisory]
rooms = ["matrix:{triage}"]
advisors = ["matrix:{advisor}"]
"""
    )
    return path


async def start_app(
    kit: BotKit,
    config: Config,
    clock: FakeClock,
    *,
    key: str = KEY,
    telegram_url: str | None = None,
) -> App:
    """Build and start the app with its Matrix transport as ``kit``'s bot account and,
    given ``telegram_url`` (a fake Bot API server), its Telegram transport too."""
    env = {"SOSBOT_MASTER_KEY": key, "SOSBOT_MATRIX_PASSWORD": kit.password}
    if telegram_url is not None:
        env["SOSBOT_TELEGRAM_TOKEN"] = TOKEN
    secrets = load_secrets(config, env)
    options = MatrixOptions(sync_timeout_ms=SYNC_MS, send=SendPolicy(network_delay=0.05))

    def transports(services: Services) -> list[object]:
        matrix = MatrixTransport.from_config(config, kit.password, services, options)
        if telegram_url is None:
            return [matrix]
        return [TelegramTransport(TOKEN, services, telegram_url, poll_timeout=1), matrix]

    app = await App.build(config, secrets, clock, transports=transports)  # type: ignore[arg-type]
    await app.start()
    return app


class MatrixSide(NamedTuple):
    """The Matrix people of a bot on both platforms: an advisor with the encrypted
    triage room, a member with the plain room of Réseau Goma."""

    advisor: Peer
    triage: str
    member: Peer
    goma: str


async def triage_and_member_room(kit: BotKit, tmp: Path) -> MatrixSide:
    """An advisor with the encrypted triage room, and a member with the plain room of
    Réseau Goma; both invite ``kit``'s bot."""
    advisor = await kit.person("advisor", tmp)
    member = await kit.person("member", tmp)
    triage = await advisor.new_room("Triage", [kit.user_id])
    goma = await member.new_room("Réseau Goma", [kit.user_id], encrypted=False)
    return MatrixSide(advisor, triage, member, goma)


@asynccontextmanager
async def on_both_platforms(
    kit: BotKit, path: Path, advisory: str, server: FakeTelegramServer, matrix: MatrixSide
) -> AsyncIterator[App]:
    """The bot on Matrix as ``kit``'s account and on the fake Telegram ``server`` at
    once, with the ``[advisory]`` lines given and its data folder made: started, and
    in ``matrix``'s two rooms; stopped at the end."""
    config = matrix_config(kit, path, advisory, telegram_url=server.base_url)
    config.bot.data_dir.mkdir(exist_ok=True)
    app = await start_app(kit, config, FakeClock(), telegram_url=server.base_url)
    try:
        bot = matrix_bot(app)
        await matrix.advisor.wait_for_member(matrix.triage, bot)
        await matrix.member.wait_for_member(matrix.goma, bot)
        yield app
    finally:
        await app.stop()


def matrix_bot(app: App) -> MatrixTransport:
    return next(t for t in app.transports if isinstance(t, MatrixTransport))


async def sos(peer: Peer, dm: str, bot: MatrixTransport, text: str) -> str:
    """``!sos TEXT`` from ``peer`` in its direct room; the reference of the case it made."""
    alert = await answer(peer, dm, bot, f"!sos {text}", "saved under the reference")
    found = CASE_REF.search(alert)
    assert found, alert
    return found.group(0)


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


async def report_to_summary(defender: Peer, dm: str, bot: MatrixTransport, what: str) -> str:
    """A report in Tunis through the defender's conversation, up to its summary (not yet
    sent); returns the urgency question."""
    await answer(defender, dm, bot, "!report", "What is happening?")
    await answer(defender, dm, bot, what, "Noted")
    await answer(defender, dm, bot, "done", "Where is this happening?")
    await answer(defender, dm, bot, "Tunis", "Who is at risk?")
    urgency = await answer(defender, dm, bot, "the women's collective", "How urgent")
    await answer(defender, dm, bot, "1", "What may the network do")
    await answer(defender, dm, bot, "advisory group only", "safe way")
    await answer(defender, dm, bot, "skip", "Please check your report")
    return urgency


async def confirm_and_see_card(
    defender: Peer, dm: str, advisor: Peer, triage: str, bot: MatrixTransport
) -> str:
    """Send the report from its summary; once the advisors' room has its card (every
    message there from the bot decrypted), the card's text."""
    receipt = await answer(defender, dm, bot, "1", "case reference")
    match = CASE_REF.search(receipt)
    assert match, receipt
    ref = match.group(0)

    def card() -> list[str]:
        return [b for b in advisor.bodies(triage, bot.user_id) if ref in b and "New case" in b]

    await advisor.until(lambda: bool(card()), "the case card")
    messages = advisor.from_sender(triage, bot.user_id)
    assert messages and all(getattr(e, "decrypted", False) for e in messages), "only encrypted"
    return card()[0]


async def same_device_sends_the_card(
    app: App, device: str | None, defender: Peer, dm: str, advisor: Peer, triage: str
) -> str:
    """After a restart or a restore: the bot is the same Matrix device, and the
    report left at its summary is sent to a card (the card's text)."""
    bot = matrix_bot(app)
    assert bot.client is not None and bot.client.device_id == device
    return await confirm_and_see_card(defender, dm, advisor, triage, bot)

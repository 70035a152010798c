"""The real bot (App, router, storage, scheduler, python-telegram-bot) against
the fake Bot API server."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_secrets, parse_config
from bot.transports.telegram import TelegramTransport, Webhook
from handlers.clock import Clock, FakeClock
from handlers.services import Services
from storage.migrate import upgrade_to_head
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser

TOKEN = "123456:TEST-token-for-the-fake-server-only"
MASTER_KEY = base64.b64encode(b"m" * 32).decode()


@contextlib.asynccontextmanager
async def fake_bot_api(token: str = TOKEN) -> AsyncIterator[FakeTelegramServer]:
    """The fake Bot API serving the bot ``token``; once it has stopped, it must not
    have failed inside (a fault of the fake, which no test may pass over)."""
    async with FakeTelegramServer() as server:
        server.add_bot(token)
        yield server
    assert server.internal_errors == []


@dataclass
class TelegramWorld:
    server: FakeTelegramServer
    app: App
    triage: FakeChat
    advisor: FakeUser
    path: Path
    pressed: dict[int, int] = field(default_factory=dict)
    """Per user, the id of the last question whose button the test pressed."""

    @property
    def clock(self) -> FakeClock:
        clock = self.app.services.clock
        assert isinstance(clock, FakeClock)
        return clock


async def build_app(
    config_text: str,
    path: Path,
    base_url: str,
    clock: Clock,
    *,
    master_key: str = MASTER_KEY,
    webhook: Webhook | None = None,
) -> App:
    """The App with its Telegram transport on the fake server at ``base_url`` (polling,
    or ``webhook``), its database migrated; not started."""
    config = parse_config(config_text, path)
    config.bot.data_dir.mkdir(exist_ok=True)
    await upgrade_to_head(config.storage.url)
    secrets = load_secrets(
        config, {"SOSBOT_MASTER_KEY": master_key, "SOSBOT_TELEGRAM_TOKEN": TOKEN}
    )

    def transports(services: Services) -> list[TelegramTransport]:
        return [TelegramTransport(TOKEN, services, base_url, poll_timeout=1, webhook=webhook)]

    return await App.build(config, secrets, clock, transports=transports)  # type: ignore[arg-type]


async def start_app(
    server: FakeTelegramServer,
    path: Path,
    extra: str = "",
    clock: FakeClock | None = None,
    tune: dict[str, object] | None = None,
) -> App:
    text = f"""
[bot]
data_dir = "data"
[telegram]
enabled = true
base_url = "{server.base_url}"
# These tests prove the flows, not Telegram's pacing of about one message a
# second to a person (tests/broadcast proves that, against strict windows):
# at that pace a report's dozen answers would take twelve seconds a test.
private_messages_per_second = 50
{extra}
"""
    app = await build_app(text, path, server.base_url, clock or FakeClock())
    if tune:  # the outbox lanes' policy (retry backoff, in real seconds)
        app.dispatcher.tune(**tune)
    await app.start()
    await server.wait_until_polling()
    return app


@contextlib.asynccontextmanager
async def open_world(tmp_path: Path, more_config: str = "") -> AsyncIterator[TelegramWorld]:
    """The fake Bot API, a triage group, an advisor, and the bot running against them
    (``more_config``: TOML sections added to the triage settings)."""
    async with fake_bot_api() as server:
        triage = server.new_group("Advisory group")
        advisor = server.new_user("Alice", language_code="en")
        extra = f"""
[advisory]
rooms = ["telegram:{triage.id}"]
advisors = ["telegram:{advisor.id}"]
allow_content_in_unencrypted_rooms = true
{more_config}"""
        (tmp_path / "extra.toml").write_text(extra)
        world = TelegramWorld(
            server, await start_app(server, tmp_path, extra), triage, advisor, tmp_path
        )
        try:
            yield world
        finally:
            await world.app.stop()  # the app running now, which a test may have restarted


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    async with open_world(tmp_path) as opened:
        yield opened

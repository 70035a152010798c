"""The real bot (App, router, storage, scheduler, python-telegram-bot) against
the fake Bot API server."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_secrets, parse_config
from bot.transports.telegram import TelegramTransport
from handlers.clock import FakeClock
from handlers.services import Services
from storage.migrate import upgrade_to_head
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser

TOKEN = "123456:TEST-token-for-the-fake-server-only"
MASTER_KEY = base64.b64encode(b"m" * 32).decode()


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


async def start_app(
    server: FakeTelegramServer, path: Path, extra: str = "", clock: FakeClock | None = None
) -> App:
    text = f"""
[bot]
data_dir = "data"
[telegram]
enabled = true
base_url = "{server.base_url}"
{extra}
"""
    config = parse_config(text, path)
    config.bot.data_dir.mkdir(exist_ok=True)
    await upgrade_to_head(config.storage.url)
    secrets = load_secrets(
        config, {"SOSBOT_MASTER_KEY": MASTER_KEY, "SOSBOT_TELEGRAM_TOKEN": TOKEN}
    )

    def transports(services: Services) -> list[TelegramTransport]:  # type: ignore[type-arg]
        return [TelegramTransport(TOKEN, services, server.base_url, poll_timeout=1)]

    app = await App.build(config, secrets, clock or FakeClock(), transports=transports)  # type: ignore[arg-type]
    await app.start()
    await server.wait_until_polling()
    return app


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        triage = server.new_group("Advisory group")
        advisor = server.new_user("Alice", language_code="en")
        extra = f"""
[advisory]
rooms = ["telegram:{triage.id}"]
advisors = ["telegram:{advisor.id}"]
allow_content_in_unencrypted_rooms = true
"""
        (tmp_path / "extra.toml").write_text(extra)
        world = TelegramWorld(
            server, await start_app(server, tmp_path, extra), triage, advisor, tmp_path
        )
        try:
            yield world
        finally:
            await world.app.stop()  # the app running now, which a test may have restarted
        assert server.internal_errors == []

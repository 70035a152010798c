"""``MatrixTransport.from_config`` with the real storage (SQLite) behind it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from bot.config import Config, MatrixSection
from bot.transports.matrix import PICKLE_SECRET, MatrixTransport
from bot.transports.matrix_crosssign import SEEDS_SECRET
from handlers.clock import FakeClock
from handlers.hub import MessengerHub
from handlers.messages import Address, Platform
from handlers.services import Services
from handlers.settings import Settings
from storage import Database
from tests.matrix.peers import BotKit, Recorder


async def test_from_config_keeps_its_secrets_in_the_database(kit: BotKit, tmp_path: Path) -> None:
    clock = FakeClock()
    db = await Database.open(
        f"sqlite+aiosqlite:///{tmp_path / 'sosbot.db'}", os.urandom(32), clock.now, migrate=True
    )
    services = Services(db, clock, Settings(), MessengerHub())
    config = replace(
        Config(),
        matrix=MatrixSection(
            enabled=True,
            homeserver=kit.server.base_url,
            user_id=kit.user_id,
            store_dir=kit.store_dir,
            device_name="sosbot-wired",
        ),
    )
    bot = MatrixTransport.from_config(config, kit.password, services)
    recorder = Recorder()
    try:
        await bot.start(recorder)
        assert bot.cross_signing == "created"
        assert await db.bot_secrets.get(PICKLE_SECRET) is not None
        assert await db.bot_secrets.get(SEEDS_SECRET) is not None

        defender = await kit.person("defender", tmp_path)
        room_id = await defender.open_dm(bot)
        await defender.say(room_id, "hello")
        [msg] = await recorder.wait_for(1)
        assert msg.text == "hello"

        # Removal marks the destination inactive through the real accounts repository.
        address = str(Address(Platform.MATRIX, defender.user_id))
        await db.accounts.get_or_create(address)
        await bot.messenger.gone(Address(Platform.MATRIX, defender.user_id))
        account = await db.accounts.find(address)
        assert account is not None and not account.active
    finally:
        await bot.stop()
        await db.close()

"""`sosbot backup` of a running Matrix bot, `sosbot restore` into another data
folder: the same device goes on decrypting and encrypting (issue 18, item 4)."""

from __future__ import annotations

import asyncio
import base64
import tarfile
from pathlib import Path

import pytest

from bot.app import App
from bot.backup import backup as take_backup
from bot.backup import restore
from bot.config import load_config
from handlers.clock import FakeClock
from tests.matrix.apps import (
    report_to_summary,
    same_device_sends_the_card,
    start_app,
    write_config,
)
from tests.matrix.peers import BotKit
from tests.matrix.test_app_matrix import bot_of

KEY = base64.b64encode(b"r" * 32).decode()


async def start(kit: BotKit, config_file: Path, clock: FakeClock) -> App:
    config = load_config(config_file)
    return await start_app(kit, config, clock, key=KEY)


async def test_a_restored_backup_keeps_the_device_and_the_conversation(
    kit: BotKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    advisor = await kit.person("advisor", tmp_path)
    triage = await advisor.new_room("Triage", [kit.user_id])
    clock = FakeClock()
    first = write_config(
        tmp_path / "first", kit.server.base_url, kit.user_id, triage=triage, advisor=advisor.user_id
    )
    app = await start(kit, first, clock)
    try:
        bot = bot_of(app)
        device = bot.client.device_id if bot.client else None
        await advisor.wait_for_member(triage, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)
        await report_to_summary(defender, dm, bot, "Armed men came to our office")

        # The backup is taken while the bot runs (what `sosbot backup FILE` calls;
        # the CLI itself is run as a process in tests/ops/test_backup.py).
        backup = tmp_path / "sosbot-backup.tar"
        # The nio store is SQLCipher: its key is read from the database, which
        # takes the master key from the environment, as for `sosbot run`.
        monkeypatch.setenv("SOSBOT_MASTER_KEY", KEY)
        # In a thread, as `sosbot backup` is another process: the running bot's
        # loop must go on (a write it has begun would otherwise hold the lock).
        summary = await asyncio.to_thread(take_backup, load_config(first), backup)
        assert summary.startswith("backup: wrote")
    finally:
        await app.stop()  # this machine is gone
    with tarfile.open(backup) as tar:
        names = tar.getnames()
    assert "database.sqlite" in names and "matrix/credentials.json" in names
    stores = [name for name in names if name.startswith("matrix/") and name.endswith(".db")]
    assert stores
    with tarfile.open(backup) as tar:  # still SQLCipher in the backup: nothing in clear
        for name in stores:
            extracted = tar.extractfile(name)
            assert extracted is not None
            assert not extracted.read(16).startswith(b"SQLite format 3")
    assert KEY.encode() not in backup.read_bytes()

    second = write_config(
        tmp_path / "second",
        kit.server.base_url,
        kit.user_id,
        triage=triage,
        advisor=advisor.user_id,
    )
    assert restore(load_config(second), backup).startswith("restore: sqlite database and Matrix")
    app = await start(kit, second, clock)
    try:
        text = await same_device_sends_the_card(app, device, defender, dm, advisor, triage)
        assert "Armed men came to our office" in text and "Tunis" in text
    finally:
        await app.stop()

"""Logs: no SQL unless --debug-sql, never a bound value; the bot token redacted everywhere."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from tests.fakes.telegram.server import FakeTelegramServer
from tests.harness.bot import make_harness
from tests.unit.test_cli import sosbot

REF = "C-QQ7QQ7"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    root.handlers[:], root.level = handlers, level
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


async def logged_while_storing(tmp_path: Path, *, verbose: bool, debug_sql: bool) -> str:
    logs.configure(verbose=verbose, debug_sql=debug_sql)
    capture = Capture()
    logging.getLogger().addHandler(capture)
    bot = await make_harness(tmp_path)
    try:
        await bot.db.cases.create(REF, None, "days", "advisory_only", "telegram", "x", "", "")
    finally:
        await bot.close()
    return "\n".join(capture.lines)


@pytest.mark.usefixtures("restore_logging")
async def test_verbose_logs_no_sql(tmp_path: Path) -> None:
    text = await logged_while_storing(tmp_path, verbose=True, debug_sql=False)
    assert "INSERT" not in text and REF not in text


@pytest.mark.usefixtures("restore_logging")
async def test_debug_sql_logs_statements_without_values(tmp_path: Path) -> None:
    text = await logged_while_storing(tmp_path, verbose=True, debug_sql=True)
    assert "INSERT INTO cases" in text
    assert REF not in text


TOKEN = "123456789:AAEhBOweik9ai2o4Pwlt1jDzQ0bUX8t2Ctk"  # not the fake server's


async def sosbot_async(folder: Path, *args: str, env: dict[str, str]) -> str:
    """The sosbot command as a process, while this loop serves the fake Bot API."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SOSBOT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=folder,
        env={**environment, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return out.decode() + err.decode()


async def test_a_rejected_token_is_never_printed(tmp_path: Path) -> None:
    assert sosbot(tmp_path, "init").returncode == 0
    async with FakeTelegramServer() as server:
        config = (tmp_path / "config.toml").read_text()
        config = config.replace("[telegram]\nenabled = false", "[telegram]\nenabled = true")
        config = config.replace('base_url = ""', f'base_url = "{server.base_url}"')
        # A triage room and an advisor: run refuses, before any network, without them.
        config = config.replace("rooms = []", 'rooms = ["telegram:-1001"]', 1)
        config = config.replace("advisors = []", 'advisors = ["telegram:1001", "telegram:1002"]', 1)
        (tmp_path / "config.toml").write_text(config)
        env = {"SOSBOT_TELEGRAM_TOKEN": TOKEN}
        for args in (("check",), ("-v", "check"), ("run",), ("-v", "run")):
            output = await sosbot_async(tmp_path, *args, env=env)
            assert "bot token" in output, (
                output
            )  # says what failed (check: "rejected", run: "refused")
            assert TOKEN.split(":")[1] not in output, (args, output)

"""Real ``sosbot`` processes against the fake Telegram Bot API, for the ops tests.

``Deployment`` writes a config as docs/deployment.md shows it (the fake
server as ``telegram.base_url``), runs ``sosbot init`` and starts
``sosbot run`` processes whose output lines are collected as they come.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser, StoredMessage

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:TEST-token-for-the-fake-server-only"
MASTER_KEY = base64.b64encode(b"s" * 32).decode()
ADVISOR_ID = 4242


async def sosbot(folder: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``python -m bot ARGS`` in ``folder``, run to its end: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def spawn(name: str, folder: Path, env: dict[str, str], *args: str) -> BotProcess:
    """``python -m bot ARGS`` in ``folder``, in the background; its output is read as it comes."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    bot = BotProcess(name, proc)
    bot.reader = asyncio.create_task(bot._read())
    return bot


def bot_environment(**settings: str) -> dict[str, str]:
    """The environment of a bot process: this one's without any ``SOSBOT_`` variable,
    plus the master key, ``settings`` (secrets such as the token) and the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOSBOT_")}
    env.update(SOSBOT_MASTER_KEY=MASTER_KEY, PYTHONPATH=str(ROOT), **settings)
    return env


@dataclass
class BotProcess:
    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stdout is not None  # stderr is merged into it
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self.changed.set()
        self.changed.set()

    async def wait_for_line(self, text: str, timeout: float) -> str:  # noqa: ASYNC109
        """The first stderr line containing ``text``; fails after ``timeout`` seconds."""

        async def look() -> str:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if self.process.returncode is not None and self.reader and self.reader.done():
                    raise AssertionError(f"{self.name} exited: {self.lines}")
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(look(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {text!r} in {self.lines}") from None

    def has_line(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def exited(self, timeout: float = 60) -> int:  # noqa: ASYNC109
        """The exit code of a process that ends by itself."""
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self.reader is not None:
            await self.reader
        return code

    async def terminate(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 60)
        if self.reader is not None:
            await self.reader
        return code


@dataclass
class Deployment:
    """A config folder per machine, one database for all."""

    server: FakeTelegramServer
    root: Path
    url: str
    triage: FakeChat
    processes: list[BotProcess] = field(default_factory=list)
    extra: str = ""  # more TOML for every machine's config
    token: str = TOKEN

    def environment(self) -> dict[str, str]:
        return bot_environment(SOSBOT_TELEGRAM_TOKEN=self.token)

    def folder(self, machine: str) -> Path:
        """The machine's folder with its config.toml (written once)."""
        folder = self.root / machine
        config = folder / "config.toml"
        if not config.exists():
            folder.mkdir(parents=True, exist_ok=True)
            config.write_text(
                f"""
[bot]
data_dir = "data"
[storage]
url = "{self.url}"
[telegram]
enabled = true
base_url = "{self.server.base_url}"
[advisory]
rooms = ["telegram:{self.triage.id}"]
advisors = ["telegram:{ADVISOR_ID}"]
allow_content_in_unencrypted_rooms = true
{self.extra}
"""
            )
        return folder

    async def command(self, machine: str, *args: str) -> tuple[int, str, str]:
        """``sosbot ARGS --config machine/config.toml``, run to its end."""
        folder = self.folder(machine)
        config = str(folder / "config.toml")
        return await sosbot(folder, self.environment(), *args, "--config", config)

    async def run(self, machine: str) -> BotProcess:
        return await self.start(machine, "run")

    async def start(self, machine: str, command: str) -> BotProcess:
        """``sosbot --config machine/config.toml COMMAND`` in the background."""
        folder = self.folder(machine)
        config = str(folder / "config.toml")
        bot = await spawn(machine, folder, self.environment(), "--config", config, command)
        self.processes.append(bot)
        return bot

    async def stop_all(self) -> None:
        for bot in self.processes:
            if bot.process.returncode is None:
                bot.process.send_signal(signal.SIGKILL)
                await bot.process.wait()
            if bot.reader is not None:
                await bot.reader


# Per server (user ids repeat across tests): user id -> the last message pressed.
_PRESSED: weakref.WeakKeyDictionary[FakeTelegramServer, dict[int, int]] = (
    weakref.WeakKeyDictionary()
)


def _last_id(server: FakeTelegramServer, user: FakeUser) -> int:
    return max((m.message_id for m in server.history(user.id)), default=0)


async def say(server: FakeTelegramServer, user: FakeUser, text: str, expect: str) -> StoredMessage:
    """The user writes; the first bot message after it that contains ``expect``."""
    before = _last_id(server, user)
    server.user_sends(user, user, text)
    return await server.wait_for_message(
        user.id, lambda m: expect in (m.text or ""), after=before, timeout=30
    )


async def press(
    server: FakeTelegramServer, user: FakeUser, label: str, expect: str
) -> StoredMessage:
    """Press ``label`` on the newest question offering it; the answer containing ``expect``."""
    pressed = _PRESSED.setdefault(server, {})
    last = pressed.get(user.id, 0)
    question = await server.wait_for_message(
        user.id, lambda m: label in m.button_texts and m.message_id > last, timeout=30
    )
    pressed[user.id] = question.message_id
    before = _last_id(server, user)
    server.press_button(user, user, question.message_id, text=label)
    return await server.wait_for_message(
        user.id, lambda m: expect in (m.text or ""), after=before, timeout=30
    )


async def report(server: FakeTelegramServer, user: FakeUser, *, first_half: bool) -> str:
    """A report in English, in two halves; the second half returns the receipt."""
    if first_half:
        await say(server, user, "/report", "What is happening?")
        await say(server, user, "Armed men came to our office", "Noted")
        await press(server, user, "Done", "Where is this happening?")
        await say(server, user, "Cauca", "Who is at risk?")
        return ""
    await say(server, user, "Ana and the collective", "How urgent is it?")
    await press(server, user, "Within days", "What may the network do")
    await press(server, user, "Public appeal, anonymised", "safe way")
    await press(server, user, "Skip", "Please check your report")
    receipt = await press(server, user, "Send the report", "case reference")
    return receipt.text or ""


@asynccontextmanager
async def initialised(
    tmp_path: Path, url: str, *, rate_limits: bool = False, extra: str = ""
) -> AsyncIterator[Deployment]:
    """A deployment on the fake Telegram whose machine "a" ran ``sosbot init``; every
    process is stopped afterwards, and the fake server must have seen no internal error.
    ``extra``: more TOML for every machine's config."""
    async with FakeTelegramServer(rate_limits=rate_limits) as server:
        server.add_bot(TOKEN)
        dep = Deployment(server, tmp_path, url, server.new_group("Advisory group"), extra=extra)
        code, out, err = await dep.command("a", "init")
        assert code == 0, out + err
        try:
            yield dep
        finally:
            await dep.stop_all()
        assert server.internal_errors == []

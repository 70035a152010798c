"""What the fault tests share: the bot processes (forked by ``tests.faults.child``),
the fake Telegram's chats, and where the data lives (a SQLite folder or a
PostgreSQL database, copied for each kill)."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import parse_config
from handlers.clock import SystemClock
from storage import Database
from tests.broadcast.conftest import MASTER_KEY
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser
from tests.servers.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
MAX_COMMITS = 40
SURVIVE = 10.0  # seconds without a commit: nothing left to kill at


@dataclass
class Place:
    """Where one bot's data lives: a folder, and a PostgreSQL database or not."""

    folder: Path
    url: str = ""

    async def open(self) -> Database:
        url = self.url or parse_config('[bot]\ndata_dir = "data"\n', self.folder).storage.url
        return await Database.open(url, base64.b64decode(MASTER_KEY), SystemClock().now)


@dataclass
class Places:
    """A template place, and a copy of it per kill."""

    root: Path
    postgres: PostgresServer | None

    def template(self) -> Place:
        folder = self.root / "template"
        folder.mkdir()
        url = self.postgres.create_database("fault_template") if self.postgres else ""
        return Place(folder, url)

    def copy(self, template: Place, n: int) -> Place:
        folder = self.root / f"kill-{n}"
        shutil.copytree(template.folder, folder)
        url = self.postgres.copy_database("fault_template", f"fault_{n}") if self.postgres else ""
        return Place(folder, url)


class Zygote:
    """``tests.faults.child``: forks each bot process from one that imported everything."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = 0

    @classmethod
    async def start(cls) -> Zygote:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.child",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        zygote = cls(process)
        assert await zygote.line(120) == "ready"
        return zygote

    async def line(self, timeout: float) -> str:  # noqa: ASYNC109
        assert self.process.stdout is not None
        return (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode().strip()

    async def run(
        self,
        server: FakeTelegramServer,
        place: Place,
        triage: FakeChat,
        kill_at: int,
        advisors: Sequence[int] = (),
    ) -> None:
        """A bot on ``place`` that dies at its ``kill_at``-th commit once ``arm`` is called."""
        assert self.process.stdin is not None
        listed = ",".join(str(n) for n in advisors) or "-"
        line = f"run {server.base_url} {place.folder} {triage.id} {kill_at} {listed} {place.url}"
        self.process.stdin.write(f"{line.strip()}\n".encode())
        await self.process.stdin.drain()
        reply = await self.line(30)
        assert reply.startswith("pid ")
        self.pid = int(reply.split()[1])
        assert await self.line(60) == f"up {self.pid}"

    @staticmethod
    def arm(place: Place) -> None:
        (place.folder / "arm").touch()

    async def died(self) -> bool:
        """Whether the bot killed itself (else, with no commit left, it is killed now)."""
        try:
            assert await self.line(SURVIVE) == f"ended {self.pid}"
            return True
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            assert await self.line(30) == f"ended {self.pid}"
            return False

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def last_id(server: FakeTelegramServer, chat: FakeChat | FakeUser) -> int:
    return max((m.message_id for m in server.history(chat.id)), default=0)


def texts_after(server: FakeTelegramServer, chat: FakeChat | FakeUser, after: int) -> list[str]:
    return [m.text or "" for m in server.messages_to(chat.id) if m.message_id > after]


def copies(texts: list[str], matches: Callable[[str], bool], repeat_mark: str) -> list[str]:
    """The texts that ``matches``; a second copy must say it may repeat."""
    found = [t for t in texts if matches(t)]
    assert all(t.startswith(repeat_mark) for t in found[1:]), "a repeat says so"
    return found

"""Broadcast tests: the real App against the fake Telegram Bot API, with real time.

The App runs with the system clock (retries are due when they say), the
fake server's strict flood control on (sliding windows: 30 in any second,
20 in any minute per group, 3 in any 3 seconds per chat; every test here
expects no 429 it did not inject), and the dispatcher's poll, backoff and
progress intervals shortened so that a test takes seconds.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from handlers.broadcast import queue_broadcast
from handlers.clock import SystemClock
from handlers.hub import MessengerHub
from handlers.messages import Address, Sent
from storage.repos.outbox import Delivery
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, StoredMessage
from tests.telegram.conftest import TOKEN, build_app

MASTER_KEY = base64.b64encode(b"b" * 32).decode()
FAST = {"poll_interval": 0.05, "backoff": 0.2}
TICK = 0.2  # how often the reporter looks (the final report comes within a tick)


def hang_after_sending(hub: MessengerHub, count: int) -> tuple[asyncio.Event, Callable[[], None]]:
    """Make ``hub.send_text`` hang for ever once its ``count``-th message is out, so a
    crash or kill finds that sender there: sent, its outcome not yet written. Returns
    the event set at that moment, and what puts the real ``send_text`` back."""
    real_send = hub.send_text
    sends = 0
    crashed = asyncio.Event()

    async def send_then_hang(chat: Address, text: str, **kwargs: Any) -> Sent:
        nonlocal sends
        sent = await real_send(chat, text, **kwargs)
        sends += 1
        if sends == count:
            crashed.set()
            await asyncio.Event().wait()  # the crash or kill finds this sender here
        return sent

    def restore() -> None:
        hub.send_text = real_send  # type: ignore[method-assign]

    hub.send_text = send_then_hang  # type: ignore[method-assign]
    return crashed, restore


async def build_bot(
    base_url: str,
    path: Path,
    triage_id: int,
    *,
    tune: dict[str, object] | None = None,
    progress: float | None = None,
    database_url: str | None = None,
    advisors: Sequence[int] = (),
) -> App:
    """The App as ``sosbot run`` builds it, with real time and quick intervals; not started.

    ``advisors``: Telegram user ids of the advisory group (none: nobody may run
    advisors' commands)."""
    storage = f'[storage]\nurl = "{database_url}"\n' if database_url else ""
    listed = ", ".join(f'"telegram:{n}"' for n in advisors)
    text = f"""
{storage}[bot]
data_dir = "data"
[telegram]
enabled = true
base_url = "{base_url}"
[advisory]
rooms = ["telegram:{triage_id}"]
advisors = [{listed}]
allow_content_in_unencrypted_rooms = true
"""
    app = await build_app(text, path, base_url, SystemClock(), master_key=MASTER_KEY)
    app.dispatcher.tune(**{**FAST, **(tune or {})})
    # Progress edits count against the triage group's 20 a minute like any message:
    # tests that do not look at them show none (``progress``: seconds between edits).
    app.dispatcher.progress_interval = TICK
    app.dispatcher.reporter.interval = progress or 3600.0
    app.dispatcher.reporter.show_after = progress or 3600.0
    return app


async def start_bot(
    server: FakeTelegramServer, path: Path, triage: FakeChat, **options: Any
) -> App:
    app = await build_bot(server.base_url, path, triage.id, **options)
    await app.start()
    await server.wait_until_polling()
    return app


@dataclass
class Network:
    """The fake Telegram with a triage group, member groups and people, and the bot."""

    server: FakeTelegramServer
    path: Path
    triage: FakeChat
    app: App | None = None
    groups: list[FakeChat] = field(default_factory=list)
    people: list[FakeChat] = field(default_factory=list)

    async def start(self, **options: object) -> App:
        self.app = await start_bot(self.server, self.path, self.triage, **options)
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    @property
    def running(self) -> App:
        assert self.app is not None
        return self.app

    async def add_members(self, groups: int, people: int = 0) -> None:
        """Member groups registered to organisations, and people who started the bot."""
        members = self.running.services.db.members
        for n in range(groups):
            chat = self.server.new_group(f"Member group {n}")
            org = await members.upsert_organisation(f"Organisation {n}", region="Americas")
            await members.add_group(f"telegram:{chat.id}", org.id, "es" if n % 2 else "en")
            self.groups.append(chat)
        for n in range(people):
            user = self.server.new_user(f"Member {n}")
            self.people.append(self.server.add_chat(user))

    def deliveries(self, text: str = "Urgent action") -> list[Delivery]:
        chats = [*self.groups, *self.people]
        return [Delivery(f"telegram:{chat.id}", "en", f"{text} ✊") for chat in chats]

    async def broadcast(self, ref: str = "A-9TXW3B", text: str = "Urgent action") -> int:
        return await queue_broadcast(self.running.services, "appeal", ref, self.deliveries(text))

    def received(self, chat: FakeChat, text: str = "Urgent action") -> list[StoredMessage]:
        return [m for m in self.server.messages_to(chat.id) if (m.text or "").startswith(text)]

    async def report(self, timeout: float = 30.0) -> StoredMessage:  # noqa: ASYNC109
        return await self.server.wait_for_message(
            self.triage.id, lambda m: "sending finished" in (m.text or ""), timeout
        )


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[Network]:
    async with FakeTelegramServer(rate_limits=True) as server:
        server.add_bot(TOKEN)
        net = Network(server, tmp_path, server.new_group("Advisory group"))
        try:
            yield net
        finally:
            await net.stop()
        assert server.internal_errors == []

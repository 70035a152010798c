"""A whole bot in memory: real storage (SQLite file), real router and
scheduler, in-memory messengers for Telegram and Matrix, a fake clock."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.broadcast.delivery import send_item
from bot.scheduler import Scheduler
from handlers.clock import FakeClock
from handlers.hub import MessengerHub
from handlers.messages import Address, Attachment, IncomingMessage, Platform
from handlers.messenger import DestinationGone, TransientSendError
from handlers.router import Router
from handlers.services import Services
from handlers.settings import Settings
from storage import Database
from storage.migrate import upgrade_to_head
from storage.repos.outbox import INACTIVE, PENDING, SENT, Outcome
from tests.harness.messenger import MemoryMessenger, Outgoing

TRIAGE = Address(Platform.MATRIX, "!triage:localhost")
ALICE = Address(Platform.MATRIX, "@alice:localhost")
BOB = Address(Platform.TELEGRAM, "2002")
RETRY_AFTER = 30  # seconds of the fake clock before a failed send is tried again
COORDINATOR = Address(Platform.MATRIX, "@coordinator:localhost")


def default_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "advisory_rooms": (TRIAGE,),
        "advisors": (ALICE, BOB),
        "escalation_list": (COORDINATOR,),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Harness:
    services: Services
    router: Router
    scheduler: Scheduler
    telegram: MemoryMessenger
    matrix: MemoryMessenger
    clock: FakeClock
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    broadcasts: int = 0
    """Broadcast messages delivered since the last ``take_broadcasts``."""

    def take_broadcasts(self) -> int:
        """How many broadcast messages (appeals, reminders) were delivered since last asked."""
        count, self.broadcasts = self.broadcasts, 0
        return count

    @property
    def db(self) -> Database:
        return self.services.db

    async def close(self) -> None:
        """Stop the scheduler, then close the database: a test's end, or a restart's."""
        await self.scheduler.stop()
        await self.db.close()

    def messenger(self, platform: Platform) -> MemoryMessenger:
        return self.telegram if platform is Platform.TELEGRAM else self.matrix

    async def send(
        self,
        sender: Address,
        text: str = "",
        *,
        chat: Address | None = None,
        choice: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        hint: str | None = None,
        reply_to: str | None = None,
    ) -> list[Outgoing]:
        """Deliver one message; what the bot sent in answer, anywhere."""
        chat = chat or sender
        messenger = self.messenger(sender.platform)
        before = len(self.telegram.sent), len(self.matrix.sent)
        msg = IncomingMessage(
            chat=chat,
            sender=sender,
            text=text,
            is_private=chat == sender,
            message_id=messenger.next_id(),
            reply_to=reply_to,
            language_hint=hint,
            attachments=attachments,
            choice=choice,
            room_encrypted=await messenger.is_encrypted(chat),
        )
        await self.router.deliver(msg, messenger)
        await drain_outbox(self)
        return self.telegram.sent[before[0] :] + self.matrix.sent[before[1] :]

    async def press(self, sender: Address, label_or_key: str) -> list[Outgoing]:
        """Press a button of the last question asked in the sender's chat."""
        last = [o for o in self.messenger(sender.platform).to(sender) if o.options]
        assert last, "no question with options was asked"
        for option in last[-1].options:
            if label_or_key in (option.key, option.label):
                return await self.send(sender, choice=option.key)
        raise AssertionError(f"no option {label_or_key!r} in {last[-1].options}")

    async def advance(self, delta: timedelta) -> int:
        """Move the clock on: due deadlines run, and what they queued is delivered."""
        count = await self.scheduler.advance(delta)
        await drain_outbox(self)
        return count


_TEMPLATE: list[Path] = []
"""A SQLite file migrated once per test process; each harness gets a copy."""


async def _migrated_template() -> Path:
    """The schema at head in a closed (checkpointed, single-file) SQLite database.

    Migrating costs about 0.2 s of CPU and every harness needs the same schema
    (the migrations create tables only, nothing random): one migration a
    session, a file copy per test. tests/storage/test_migrations.py runs the
    migrations themselves."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="sosbot-harness-template-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "sosbot.db"
        await upgrade_to_head(f"sqlite+aiosqlite:///{template}")  # its engine is disposed
        _TEMPLATE.append(template)
    return _TEMPLATE[0]


async def open_database(path: Path, clock: FakeClock, url: str | None = None) -> Database:
    """The harness's database: a copy of the migrated template in ``path``, or
    ``url`` brought to the current schema (a database the test made)."""
    target = path / "sosbot.db"
    if url is None and not target.exists():
        shutil.copyfile(await _migrated_template(), target)
        url = f"sqlite+aiosqlite:///{target}"
    else:  # a database made by the test, or this file again (a restart): as before
        url = url or f"sqlite+aiosqlite:///{target}"
        await upgrade_to_head(url)
    return await Database.open(url, b"k" * 32, clock.now)


async def make_harness(
    tmp_path: Path, settings: Settings | None = None, url: str | None = None
) -> Harness:
    clock = FakeClock()
    db = await open_database(tmp_path, clock, url)
    telegram = MemoryMessenger(Platform.TELEGRAM)
    matrix = MemoryMessenger(Platform.MATRIX, encrypted_chats={TRIAGE})
    hub = MessengerHub()
    hub.register(Platform.TELEGRAM, telegram)
    hub.register(Platform.MATRIX, matrix)
    services = Services(db=db, clock=clock, settings=settings or default_settings(), hub=hub)
    scheduler = Scheduler(services)
    await scheduler.start()
    return Harness(services, Router(services), scheduler, telegram, matrix, clock)


__all__ = ["ALICE", "BOB", "COORDINATOR", "TRIAGE", "Harness", "make_harness", "os"]


async def drain_outbox(harness: Harness) -> int:
    """Deliver everything queued in the outbox through the in-memory messengers.

    A synchronous stand-in for bot/broadcast's dispatcher (which runs on
    real time with its rate limits; tests/broadcast and the end-to-end tests
    use the real one): the same request per row (``send_item``) and the same
    outcomes written back, so a held confirmation is released by its card.
    """
    outbox = harness.db.outbox
    total = 0
    while items := await outbox.claim(10_000):
        outcomes = []
        for item in items:
            chat = Address.parse(item.address)
            try:
                sent = await send_item(harness.services.hub, chat, item)
            except DestinationGone:
                outcomes.append(Outcome(item.id, INACTIVE, error="destination_gone"))
                continue
            except TransientSendError:  # tried again once the clock has moved on
                retry_at = harness.clock.now() + timedelta(seconds=RETRY_AFTER)
                outcomes.append(Outcome(item.id, PENDING, error="transient", retry_at=retry_at))
                continue
            if item.kind == "card" and sent is not None:
                await harness.db.cases.record_card(item.ref, item.address, sent.message_id)
            outcomes.append(Outcome(item.id, SENT, remote_id=sent.message_id if sent else None))
            harness.broadcasts += item.priority
        await outbox.record([], outcomes)
        total += len(items)
    return total

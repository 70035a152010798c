"""What the property tests build once: a bot on an in-memory database put back
before each example, and an initialised data folder for the operator's tools.

Building per example (a new database, migrations, an account, a key) cost
most of each example; the properties now pay it once per property and
restore the database (SQLite's backup API, about a millisecond) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

from babel.messages.pofile import read_po

from bot.admin import members_import
from bot.cli import _init as init
from bot.cli import main as sosbot
from bot.config import ConfigError, load_config
from bot.scheduler import Scheduler
from handlers.clock import FakeClock
from handlers.conversation.record import State
from handlers.hub import MessengerHub
from handlers.i18n import render
from handlers.messages import Address, IncomingMessage, Platform
from handlers.router import Router
from handlers.services import Services
from storage import Database
from tests.harness.bot import TRIAGE, Harness, default_settings
from tests.harness.dbstate import Tables
from tests.harness.messenger import MemoryMessenger

LANGUAGES = ("es", "fr", "ar")
STEPS = (State.WHAT, State.WHERE, State.WHO, State.URGENCY, State.CONSENT, State.CONTACT)


class PropertyBot:
    """The whole bot (router, storage, outbox, in-memory messengers) on an
    in-memory SQLite database, with one defender per (language, step) whose
    conversation waits at that step, and one idle defender per language."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        harness: Harness,
        tables: Tables,
        baseline: dict[str, str],
    ) -> None:
        self.loop = loop
        self.harness = harness
        self.tables = tables
        self.baseline = baseline
        # The data keys the baseline holds, unwrapped once: ``restore`` empties
        # the vault's cache (keys made by an example are gone with it) and these
        # are put back, as a running bot keeps them cached.
        self._keys = dict(harness.db._store.vault._cache)

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "PropertyBot()"

    def person(self, language: str, step: State | None = None) -> Address:
        name = f"{language}-{step.value if step else 'idle'}"
        return Address(Platform.TELEGRAM, str(_person_ids()[name]))

    def reset(self) -> None:
        self.loop.run_until_complete(self.tables.restore())
        self.harness.db._store.vault._cache.update(self._keys)

    def turn(self, person: Address, text: str = "", choice: str | None = None) -> list[str]:
        """One message from ``person`` in their private chat, on the baseline
        database: the texts (and button labels) the bot queued for them.

        The answers are read from the outbox as the dispatcher would take them
        (a plain read), not delivered: delivery is the same for every answer
        (tests/handlers, tests/broadcast) and cost a third of each example.
        """
        self.reset()
        return self.loop.run_until_complete(self._turn(person, text, choice))

    async def _turn(self, person: Address, text: str, choice: str | None) -> list[str]:
        harness = self.harness
        msg = IncomingMessage(
            chat=person,
            sender=person,
            text=text,
            is_private=True,
            message_id=harness.telegram.next_id(),
            choice=choice,
        )
        await harness.router.deliver(msg, harness.telegram)
        queued = await harness.db.outbox.claim(10_000, lease=None)
        answers = []
        for item in queued:
            if item.address == str(person):
                answers.append(item.body or "")
                answers.extend(label for _, label in item.options)
        return answers

    def dump(self) -> dict[str, str]:
        return self.loop.run_until_complete(self.tables.dump())


@contextlib.contextmanager
def property_bot() -> Iterator[PropertyBot]:
    loop = asyncio.new_event_loop()
    harness, tables = loop.run_until_complete(_build())
    baseline = loop.run_until_complete(tables.dump())
    try:
        yield PropertyBot(loop, harness, tables, baseline)
    finally:
        loop.run_until_complete(harness.scheduler.stop())
        loop.run_until_complete(harness.db.close())
        loop.close()


def _person_ids() -> dict[str, int]:
    names = [f"{lang}-idle" for lang in LANGUAGES] + [
        f"{lang}-{step.value}" for lang in LANGUAGES for step in (*STEPS, State.SUMMARY)
    ]
    return {name: 700_000 + n for n, name in enumerate(names)}


async def _build() -> tuple[Harness, Tables]:
    clock = FakeClock()
    db = await Database.open("sqlite+aiosqlite://", b"k" * 32, clock.now, migrate=True)
    telegram = MemoryMessenger(Platform.TELEGRAM)
    matrix = MemoryMessenger(Platform.MATRIX, encrypted_chats={TRIAGE})
    hub = MessengerHub()
    hub.register(Platform.TELEGRAM, telegram)
    hub.register(Platform.MATRIX, matrix)
    services = Services(db=db, clock=clock, settings=default_settings(), hub=hub)
    scheduler = Scheduler(services)
    await scheduler.start()
    router = Router(services)
    # The same few people send every example: the flood limit (a real-time
    # window, tested in tests/handlers) would otherwise answer most of them.
    router.limiter.per_minute = 10**9
    harness = Harness(services, router, scheduler, telegram, matrix, clock)
    for name, number in _person_ids().items():
        language, _, step = name.partition("-")
        account = await db.accounts.get_or_create(f"telegram:{number}", language)
        await db.accounts.set_language(account.id, language)
        if step != "idle":
            draft = {} if step == State.WHAT.value else {"what": ["x"]}
            data = {"pending": None, "draft": draft, "first_message_id": "1"}
            await db.conversations.save(account.id, step, data)
    tables = await Tables.of(db)
    await tables.save()
    return harness, tables


# -- replies in the person's language ------------------------------------------


def _msgids() -> list[str]:
    with (Path(__file__).parents[2] / "locales" / "sosbot.pot").open("rb") as handle:
        return [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]


MSGIDS = _msgids()
_ENGLISH: dict[str, frozenset[str]] = {}


def english_only(language: str) -> frozenset[str]:
    """Lines of English messages whose translation differs: never in a reply."""
    if language not in _ENGLISH:
        lines = set()
        for msgid in MSGIDS:
            if "{" in msgid or render(language, msgid) == msgid:
                continue
            lines.update(line for line in msgid.split("\n") if len(line) > 12)
        _ENGLISH[language] = frozenset(lines)
    return _ENGLISH[language]


def assert_in_language(language: str, replies: list[str]) -> None:
    forbidden = english_only(language)
    for reply in replies:
        for line in reply.split("\n"):
            assert line not in forbidden, (language, line)


# -- the operator's tools: an initialised data folder ----------------------------


class DataFolder:
    """A folder initialised by ``sosbot init`` (config, key file, database), and
    the operator's commands run on it in this process (``import_members``, ``init``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "config.toml"
        env = os.environ.pop("SOSBOT_MASTER_KEY", None)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                assert sosbot(["init", "--config", str(self.config_path)]) == 0
        finally:
            if env is not None:
                os.environ["SOSBOT_MASTER_KEY"] = env
        self.config = load_config(self.config_path)
        self.loop = asyncio.new_event_loop()

    def __repr__(self) -> str:
        return "DataFolder()"

    def close(self) -> None:
        self.loop.close()

    def state(self) -> dict[str, tuple[int, int, int]]:
        """Every file under the folder, with its inode, size and modification time
        in nanoseconds: any write to the database, its -wal or a key file shows."""
        return {
            str(p.relative_to(self.root)): (st.st_ino, st.st_size, st.st_mtime_ns)
            for p in sorted(self.root.rglob("*"))
            if (st := p.stat()) and p.is_file()
        }

    def import_members(self, text: str) -> tuple[int, str]:
        """``sosbot members import`` with ``text``: its exit code and its stderr."""
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = self.loop.run_until_complete(members_import(self.config, {}, text))
        return code, err.getvalue()

    def init(self, config_text: str) -> str | None:
        """``sosbot init`` with a config file holding ``config_text`` (beside the
        folder's own): the one line it refuses with, or None if it did not."""
        path = self.root / "other.toml"
        path.write_text(config_text, encoding="utf-8", errors="surrogatepass")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                init(path)
        except ConfigError as exc:  # what ``sosbot`` prints, exit 1
            return str(exc)
        finally:
            path.unlink()
        return None

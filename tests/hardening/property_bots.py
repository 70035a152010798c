"""What the property tests build once: a bot on an in-memory database put back
before each example, and an initialised data folder for the operator's tools.

Building per example (a new database, migrations, an account, a key) cost
most of each example; the properties pay it once per property and put the
database back before each example instead.

Putting it back: SQLite's backup API (``Tables.restore``) replaces every
page, which makes SQLite reload the schema and prepare every statement
again (about 3 ms of each example, more than the rest of the restore). So
``Restorer`` keeps a copy of every table (with each row's rowid) in an
attached in-memory database and marks, with temporary triggers (in
``temp``, not in the bot's schema), each table an example writes; it then
puts back only the rows that differ in those tables: deletes the rows the
example added, inserts again those it deleted (parent tables first), and
sets the others back to their copy. Foreign keys stay on (turning them off
would make SQLite prepare every statement again too). The check "a refusal changes nothing" is as strong as before: a table
no statement wrote is unchanged by construction, and every written table is
dumped and compared row by row (``PropertyBot.dump``); every
``FULL_CHECK_EVERY`` examples the whole database, outbox included, is
compared with the baseline as well, so a restore that missed anything
fails the property.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
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
FULL_CHECK_EVERY = 500
"""Examples between two comparisons of the whole database (outbox included)."""
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
        restorer: Restorer,
    ) -> None:
        self.loop = loop
        self.harness = harness
        self.tables = tables
        self.baseline = baseline
        self.restorer = restorer
        self.examples = 0
        # The data keys the baseline holds, unwrapped once: the vault's cache is
        # emptied at each reset (keys made by an example are gone with their
        # rows) and these are put back, as a running bot keeps them cached.
        self._keys = dict(harness.db._store.vault._cache)

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "PropertyBot()"

    def person(self, language: str, step: State | None = None) -> Address:
        name = f"{language}-{step.value if step else 'idle'}"
        return Address(Platform.TELEGRAM, str(_person_ids()[name]))

    def reset(self) -> None:
        self.examples += 1
        if self.examples % FULL_CHECK_EVERY == 0:
            self.loop.run_until_complete(self.restorer.restore())
            whole = self.loop.run_until_complete(self.restorer.dump_all())
            assert whole == self.restorer.baseline_all, "the restore missed a change"
        self.loop.run_until_complete(self.restorer.restore())
        cache = self.harness.db._store.vault._cache
        cache.clear()
        cache.update(self._keys)

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
        """Every table but the outgoing ones, as ``Tables.dump`` gives them: the
        tables this example wrote read again, the others as the baseline."""
        return self.loop.run_until_complete(self.restorer.dump(self.baseline))


@contextlib.contextmanager
def property_bot() -> Iterator[PropertyBot]:
    loop = asyncio.new_event_loop()
    harness, tables = loop.run_until_complete(_build())
    baseline = loop.run_until_complete(tables.dump())
    restorer = loop.run_until_complete(Restorer.of(tables))
    try:
        yield PropertyBot(loop, harness, tables, baseline, restorer)
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


class Restorer:
    """Puts the database back by rewriting only the tables an example wrote.

    Runs on the in-memory database's one connection, in aiosqlite's thread,
    between examples (never inside a turn's transaction).
    """

    def __init__(self, tables: Tables, names: list[str], parts: dict[str, str]) -> None:
        self._aio = tables._aio
        self._names = names
        self._columns: dict[str, list[str]] = {}
        self._order: dict[str, int] = {}  # parents before their children
        self._parts = parts  # table -> its part of Tables' dump query
        self._queries: dict[frozenset[str], str] = {}
        self.baseline_all: dict[str, str] = {}

    @classmethod
    async def of(cls, tables: Tables) -> Restorer:
        aio = tables._aio
        names = [
            r[0]
            for r in await aio.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        # Tables' own query, one part per table: the rows are rendered exactly
        # as the baseline was.
        parts = {}
        for part in (await tables._dump_query()).split(" UNION ALL "):
            parts[part.split("'")[1]] = part
        restorer = cls(tables, names, parts)
        await aio._execute(restorer._setup, aio._conn)
        restorer.baseline_all = await restorer.dump_all()
        return restorer

    def _setup(self, raw: sqlite3.Connection) -> None:
        raw.execute("ATTACH DATABASE ':memory:' AS baseline")
        raw.execute("CREATE TEMP TABLE sosbot_written (name TEXT PRIMARY KEY)")
        parents: dict[str, set[str]] = {}
        for name in self._names:
            self._columns[name] = [r[1] for r in raw.execute(f'PRAGMA main.table_info("{name}")')]
            fks = raw.execute(f'PRAGMA main.foreign_key_list("{name}")').fetchall()
            parents[name] = {r[2] for r in fks if r[2] != name}
            raw.execute(
                f'CREATE TABLE baseline."{name}" AS SELECT rowid AS sosbot_rowid, * '
                f'FROM main."{name}"'
            )
            for op in ("INSERT", "UPDATE", "DELETE"):
                raw.execute(
                    f'CREATE TEMP TRIGGER "sosbot_{op}_{name}" AFTER {op} ON main."{name}" '
                    f"BEGIN INSERT OR IGNORE INTO sosbot_written VALUES ('{name}'); END"
                )
        placed: list[str] = []
        while len(placed) < len(self._names):
            ready = [n for n in self._names if n not in placed and parents[n] <= set(placed)]
            # A cycle (none today): the rest in name order; a failed insert fails loudly.
            placed.extend(ready or [n for n in self._names if n not in placed])
        self._order = {name: n for n, name in enumerate(placed)}

    def _restore(self, raw: sqlite3.Connection) -> None:
        written = sorted(
            (r[0] for r in raw.execute("SELECT name FROM sosbot_written")),
            key=self._order.__getitem__,
        )
        if not written:
            return
        raw.execute("BEGIN")
        try:
            # Rows the example added: what refers to them was added or changed by
            # it too, so a cascade reaches only rows that are put back below.
            for name in reversed(written):
                raw.execute(
                    f'DELETE FROM main."{name}" WHERE rowid NOT IN '
                    f'(SELECT sosbot_rowid FROM baseline."{name}")'
                )
            # Rows it deleted (or a cascade above did), parents first.
            for name in sorted(
                {r[0] for r in raw.execute("SELECT name FROM sosbot_written")},
                key=self._order.__getitem__,
            ):
                cols = ", ".join(f'"{c}"' for c in self._columns[name])
                raw.execute(
                    f'INSERT INTO main."{name}" (rowid, {cols}) SELECT sosbot_rowid, {cols} '
                    f'FROM baseline."{name}" WHERE sosbot_rowid NOT IN '
                    f'(SELECT rowid FROM main."{name}")'
                )
                raw.execute(
                    f'UPDATE main."{name}" SET ({cols}) = (SELECT {cols} FROM baseline."{name}" '
                    f'AS b WHERE b.sosbot_rowid = main."{name}".rowid)'
                )
            raw.execute("DELETE FROM sosbot_written")
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    async def restore(self) -> None:
        await self._aio._execute(self._restore, self._aio._conn)

    async def written(self) -> frozenset[str]:
        rows = await self._aio.execute_fetchall("SELECT name FROM sosbot_written")
        return frozenset(r[0] for r in rows)

    async def dump(self, baseline: dict[str, str]) -> dict[str, str]:
        """``Tables.dump`` for the tables written since the last restore; the
        baseline's rows for the others (no statement touched them)."""
        written = frozenset(n for n in await self.written() if n in self._parts)
        current = dict(baseline)
        if written:
            query = self._queries.get(written)
            if query is None:
                query = " UNION ALL ".join(self._parts[n] for n in sorted(written))
                self._queries[written] = query
            for name, text in await self._aio.execute_fetchall(query):
                current[name] = text or ""
        return current

    async def dump_all(self) -> dict[str, str]:
        """Every row of every table, the outgoing ones included."""
        out = {}
        for name in self._names:
            rows = await self._aio.execute_fetchall(f'SELECT * FROM main."{name}"')
            out[name] = "\n".join(sorted(repr(tuple(r)) for r in rows))
        return out


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

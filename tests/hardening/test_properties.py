"""Properties over everything that reads people's and operators' input.

- the command parser and choice resolution: no exception but the declared
  ones, and a choice is always one of the options offered;
- every intake step, through the real router and storage: no exception;
  every reply is in the person's language; a refusal changes nothing;
- the members CSV import and the config parser: only their own errors.

The number of examples comes from the hypothesis profile (tests/hardening/
conftest.py): 500 per property when CI=true (the suite's time budget);
``python -m bench.fuzz`` runs 10,000 to a million per property.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, parse_config
from bot.scheduler import Scheduler
from handlers.clock import FakeClock
from handlers.command_table import COMMANDS
from handlers.commands import (
    CommandTable,
    InputTooLong,
    UsageError,
    parse_args,
    split_command,
)
from handlers.conversation.record import State
from handlers.hub import MessengerHub
from handlers.i18n import render
from handlers.messages import Address, IncomingMessage, Option, Platform
from handlers.registry import RegistryFileError, parse_csv
from handlers.router import Router
from handlers.services import Services
from handlers.turn import resolve_choice
from storage import Database
from tests.harness.bot import TRIAGE, Harness, default_settings
from tests.harness.messenger import MemoryMessenger

EXAMPLE = (Path(__file__).parents[2] / "bot" / "config.example.toml").read_text()

# Text as people and clients send it: any code point (lone surrogates too,
# which Matrix JSON can carry), with commands, digits and separators likely.
ANY_CHAR = st.characters(codec=None)
PIECES = st.sampled_from(
    [
        "/",
        "/sos",
        "/report",
        "/update ",
        "C-",
        "A-",
        "@",
        " ",
        "\n",
        "²",
        "①",
        "٣",
        "1",
        "2",
        ".",
        ")",
        ";",
        ",",
        "=",
        "\u202e",
        "\x00",
        "\ufeff",
        "é",
        "e\u0301",
        "Ｃ",
    ]
)
TEXT = st.lists(st.one_of(ANY_CHAR, PIECES), max_size=40).map("".join)


def _table() -> CommandTable:
    table = CommandTable()
    for command in COMMANDS:
        table.add(command.spec)
    return table


TABLE = _table()


@given(TEXT)
def test_the_command_parser_raises_only_its_own_errors(text: str) -> None:
    try:
        call = split_command(text)
    except InputTooLong:
        return
    if call is None:
        return
    spec = TABLE.get(call.name)
    if spec is None:
        return
    try:
        parse_args(spec, call.rest)
    except UsageError:
        pass


OPTIONS = [Option("x:a", "Alpha"), Option("x:b", "Beta"), Option("x:c", "Gamma")]
ME = Address(Platform.TELEGRAM, "1")


@given(TEXT, st.one_of(st.none(), st.text(max_size=8)))
def test_a_resolved_choice_is_one_of_the_options(text: str, choice: str | None) -> None:
    msg = IncomingMessage(ME, ME, text, True, "1", choice=choice)
    assert resolve_choice(msg, OPTIONS) in (None, "x:a", "x:b", "x:c")


CSV_CELL = st.one_of(TEXT, st.sampled_from(["telegram:123", "matrix:@a:b", "es;en", "=1+1"]))


@given(st.lists(st.lists(CSV_CELL, max_size=9), max_size=5), st.sampled_from([",", ";", "\t"]))
def test_the_csv_import_raises_only_its_own_error(rows: list[list[str]], sep: str) -> None:
    header = "name,country,region,languages,working_groups,contacts,groups".replace(",", sep)
    body = "\n".join(sep.join(json.dumps(c) if '"' in c else c for c in row) for row in rows)
    try:
        parse_csv(header + "\n" + body)
    except RegistryFileError:
        pass


TOML_VALUE = st.recursive(
    st.one_of(
        st.integers().map(str),
        st.floats(allow_nan=True).map(
            lambda f: repr(f).replace("inf", "inf").replace("nan", "nan")
        ),
        st.booleans().map(lambda b: str(b).lower()),
        TEXT.map(lambda t: json.dumps(t)),
        st.sampled_from(['"08:00"', '"٠٨:٣٠"', '"²:00"', '"127.0.0.1:٨٠"', '"a\\u0000b"', "1e400"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: "[" + ", ".join(v) + "]"),
        st.lists(st.tuples(st.sampled_from(["a", "b"]), inner), max_size=2).map(
            lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in dict(kv).items()) + "}"
        ),
    ),
    max_leaves=6,
)
KEY_LINES = [
    n for n, line in enumerate(EXAMPLE.splitlines()) if " = " in line and not line.startswith("#")
]


@given(st.lists(st.tuples(st.sampled_from(KEY_LINES), TOML_VALUE), max_size=3))
def test_the_config_parser_raises_only_config_errors(changes: list[tuple[int, str]]) -> None:
    lines = EXAMPLE.splitlines()
    for number, value in changes:
        key = lines[number].split(" = ")[0]
        lines[number] = f"{key} = {value}"
    try:
        parse_config("\n".join(lines), Path("/srv/sosbot"))
    except ConfigError:
        pass


@given(st.one_of(TEXT, st.integers(0, 100_000).map(lambda n: "a = " + "[" * n)))
def test_any_config_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, Path("/srv/sosbot"))
    except ConfigError:
        pass


# -- intake, through the router and storage -------------------------------------

STEPS = [State.WHAT, State.WHERE, State.WHO, State.URGENCY, State.CONSENT, State.CONTACT]
LANGUAGES = ["es", "fr", "ar"]
REFUSALS = [
    "Please choose one of the options.",
    "Please answer in words.",
    "That message is too long ({limit} characters at most). Please send it in parts.",
    "Please write what is happening first.",
    "That message is too long. Nothing was saved.",
]


@pytest.fixture(scope="module")
def intake_bot(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[asyncio.AbstractEventLoop, Harness]]:
    loop = asyncio.new_event_loop()
    bot = loop.run_until_complete(memory_harness())
    yield loop, bot
    loop.run_until_complete(bot.scheduler.stop())
    loop.run_until_complete(bot.db.close())
    loop.close()


async def memory_harness() -> Harness:
    """The whole bot on an in-memory SQLite database: thousands of turns
    without an fsync each (the storage behaviour is the same)."""
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
    return Harness(services, Router(services), scheduler, telegram, matrix, clock)


def english_only(language: str) -> set[str]:
    """Lines of English messages whose translation differs: never in a reply."""
    lines = set()
    for msgid in MSGIDS:
        if "{" in msgid or render(language, msgid) == msgid:
            continue
        lines.update(line for line in msgid.split("\n") if len(line) > 12)
    return lines


def _msgids() -> list[str]:
    with (Path(__file__).parents[2] / "locales" / "sosbot.pot").open("rb") as handle:
        return [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]


MSGIDS = _msgids()
_COUNTER = iter(range(10**9))


@given(
    st.sampled_from(STEPS),
    st.sampled_from(LANGUAGES),
    st.one_of(TEXT, st.sampled_from(["1", "٢", "³", "①", "done", "skip", "/cancel", "/sos"])),
)
def test_every_intake_step_answers_in_the_persons_language(
    intake_bot: tuple[asyncio.AbstractEventLoop, Harness], step: State, language: str, text: str
) -> None:
    loop, bot = intake_bot
    loop.run_until_complete(_one_turn(bot, step, language, text))


async def _one_turn(bot: Harness, step: State, language: str, text: str) -> None:
    person = Address(Platform.TELEGRAM, str(900_000 + next(_COUNTER)))
    account = await bot.db.accounts.get_or_create(str(person), language)
    draft = {"what": ["x"]} if step is not State.WHAT else {}
    data = {"pending": None, "draft": draft, "first_message_id": "1"}
    await bot.db.conversations.save(account.id, step.value, data)
    before = await bot.db.conversations.load(account.id)
    replies = await bot.send(person, text)
    after = await bot.db.conversations.load(account.id)
    mine = [o.text for o in replies if o.chat == person]
    assert mine, "every message gets an answer"
    forbidden = _ENGLISH.setdefault(language, english_only(language))
    for reply in mine:
        for line in reply.split("\n"):
            assert line not in forbidden, (language, line)
    refusals = {render(language, r, limit=bot.services.settings.max_text_chars) for r in REFUSALS}
    if any(reply in refusals for reply in mine):
        assert after == before, "a refusal changes nothing"


_ENGLISH: dict[str, set[str]] = {}

"""Properties over everything that reads people's and operators' input.

- the command parser: no exception but its declared ones; a command it
  refuses, sent by a defender through the real router and storage, is
  answered in the defender's language and changes nothing in the database;
- choice resolution: a choice is always one of the options offered;
- every intake step and the summary, through the real router and storage,
  with typed answers and forged button presses: no exception; every reply is
  in the person's language; a refusal (an answer or press that resolves to
  no option among them) changes nothing in the database;
- the members CSV import and the config parser: only their own errors; a
  refused CSV (``sosbot members import``) or config (``sosbot init``)
  changes no file of an initialised data folder, database included.

"Changes nothing" is checked at the database level: every row of every
table, ciphertexts byte for byte, except the outbox row that carries the
answer (tests/harness/dbstate.py); for the operator's tools, the sha256 of
every file. The bot and the data folder are built once per property and
the rows an example wrote put back before the next one; every 500
examples the whole database is compared with its first state
(tests/hardening/property_bots.py).

The number of examples comes from the hypothesis profile (tests/hardening/
conftest.py): 10,000 per property when CI=true, the intake property
included; ``python -m bench.fuzz`` runs more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, parse_config
from handlers.command_table import COMMANDS
from handlers.commands import (
    CommandTable,
    InputTooLong,
    UsageError,
    parse_args,
    split_command,
)
from handlers.conversation.record import State
from handlers.i18n import render
from handlers.messages import Address, IncomingMessage, Option, Platform
from handlers.registry import RegistryFileError, parse_csv
from handlers.turn import resolve_choice
from tests.hardening.conftest import INTAKE_EXAMPLES, PROPERTY_TIMEOUT
from tests.hardening.property_bots import (
    LANGUAGES,
    STEPS,
    DataFolder,
    PropertyBot,
    assert_in_language,
    property_bot,
)
from tests.harness.dbstate import changed

pytestmark = pytest.mark.timeout(PROPERTY_TIMEOUT)

EXAMPLE = (Path(__file__).parents[2] / "bot" / "config.example.toml").read_text()

# Text as people and clients send it: any code point (lone surrogates too,
# which Matrix JSON can carry), with commands, digits and separators likely.
# Runs of any characters (st.text draws a run at once, several times faster
# than a list of single characters) between pieces chosen from PIECES.
ANY_TEXT = st.text(st.characters(codec=None), max_size=12)
PIECES = st.sampled_from(
    [
        "/",
        "/sos",
        "/report",
        "/update ",
        "/status",
        "/sign ",
        "/case ",
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
TEXT = st.lists(st.one_of(ANY_TEXT, PIECES), max_size=8).map("".join)


@pytest.fixture(scope="module")
def bot() -> Iterator[PropertyBot]:
    with property_bot() as built:
        yield built


def _table() -> CommandTable:
    table = CommandTable()
    for command in COMMANDS:
        table.add(command.spec)
    return table


TABLE = _table()


def _refused_by_parser(text: str) -> bool:
    """Whether the parser refuses ``text`` (too long, unknown command, bad arguments)."""
    try:
        call = split_command(text)
    except InputTooLong:
        return True
    if call is None:
        return False
    spec = TABLE.get(call.name)
    if spec is None:
        return True
    try:
        parse_args(spec, call.rest)
    except UsageError:
        return True
    return False


def _turn_changes_nothing(
    bot: PropertyBot, person: Address, language: str, text: str, choice: str | None = None
) -> None:
    """Send one message from ``person`` on the baseline database: one answer at
    least, all in ``language``, and no table but the outbox's changed."""
    answers = bot.turn(person, text, choice)
    assert answers, "a refusal is answered"
    assert_in_language(language, answers)
    after = bot.dump()
    assert not changed(bot.baseline, after), (text, choice, changed(bot.baseline, after))


@given(TEXT, st.sampled_from(LANGUAGES))
def test_the_command_parser_raises_only_its_own_errors(
    bot: PropertyBot, text: str, language: str
) -> None:
    if _refused_by_parser(text):
        # The same text from a defender in a private chat: refused, nothing stored.
        _turn_changes_nothing(bot, bot.person(language), language, text)


OPTIONS = [Option("x:a", "Alpha"), Option("x:b", "Beta"), Option("x:c", "Gamma")]
ME = Address(Platform.TELEGRAM, "1")
# Button presses as a client may forge them: any short key, keys of other
# questions, keys of this question with a value it does not offer.
BUTTONS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            *("x:a", "x:", "urgency:", "urgency:soon", "consent:public", "summary:"),
            *("summary:send", "what:done", "where:skip", "contact:", "checkin:x:1"),
            *("case:C-1", "lang:xx"),
        ]
    ),
)


@given(TEXT, st.one_of(st.none(), BUTTONS))
def test_a_resolved_choice_is_one_of_the_options(text: str, choice: str | None) -> None:
    """What the choice resolves to. That an unresolved answer or press at a
    question with options is refused and changes nothing in the database is
    the intake property's (below): it sends these answers and presses to the
    urgency, consent and summary questions through the router."""
    msg = IncomingMessage(ME, ME, text, True, "1", choice=choice)
    assert resolve_choice(msg, OPTIONS) in (None, "x:a", "x:b", "x:c")


CSV_CELL = st.one_of(
    ANY_TEXT, PIECES, st.sampled_from(["telegram:123", "matrix:@a:b", "es;en", "=1+1", "Org"])
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataFolder]:
    built = DataFolder(tmp_path_factory.mktemp("operator"))
    yield built
    built.close()


@given(st.lists(st.lists(CSV_CELL, max_size=8), max_size=4), st.sampled_from([",", ";", "\t"]))
def test_the_csv_import_raises_only_its_own_error(
    folder: DataFolder, rows: list[list[str]], sep: str
) -> None:
    header = "name,country,region,languages,working_groups,contacts,groups".replace(",", sep)
    body = "\n".join(sep.join(json.dumps(c) if '"' in c else c for c in row) for row in rows)
    text = header + "\n" + body
    try:
        parse_csv(text)
    except RegistryFileError:
        # The operator's command with the same file: refused, no file changed.
        before = folder.state()
        code, err = folder.import_members(text)
        assert code == 1 and err.startswith("members import: nothing imported"), err
        assert folder.state() == before


TOML_VALUE = st.recursive(
    st.one_of(
        st.integers().map(str),
        st.floats(allow_nan=True).map(repr),
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


def _config_changes_nothing(folder: DataFolder, text: str) -> None:
    """``sosbot init`` with a config the parser refused (init is the command that
    writes the data folder; the others read the config the same way): refused
    with one line, and no file of the data folder changed (the database included)."""
    before = folder.state()
    refusal = folder.init(text)
    assert refusal is not None and "\n" not in refusal, refusal
    assert folder.state() == before


@given(st.lists(st.tuples(st.sampled_from(KEY_LINES), TOML_VALUE), max_size=3))
def test_the_config_parser_raises_only_config_errors(
    folder: DataFolder, changes: list[tuple[int, str]]
) -> None:
    lines = EXAMPLE.splitlines()
    for number, value in changes:
        key = lines[number].split(" = ")[0]
        lines[number] = f"{key} = {value}"
    text = "\n".join(lines)
    try:
        parse_config(text, Path("/srv/sosbot"))
    except ConfigError:
        _config_changes_nothing(folder, text)


@given(st.one_of(TEXT, st.integers(0, 100_000).map(lambda n: "a = " + "[" * n)))
def test_any_config_text_gives_a_config_or_a_config_error(folder: DataFolder, text: str) -> None:
    try:
        parse_config(text, Path("/srv/sosbot"))
    except ConfigError:
        _config_changes_nothing(folder, text)


# -- intake, through the router and storage -------------------------------------

REFUSALS = [
    "Please choose one of the options.",
    "Please answer in words.",
    "That message is too long ({limit} characters at most). Please send it in parts.",
    "Please write what is happening first.",
    "That message is too long. Nothing was saved.",
    "That question is closed. Here is the current one.",
]
ANSWERS = st.one_of(TEXT, st.sampled_from(["1", "٢", "³", "①", "done", "skip", "/cancel", "/sos"]))


@settings(max_examples=INTAKE_EXAMPLES)
@given(
    st.sampled_from((*STEPS, State.SUMMARY)),
    st.sampled_from(LANGUAGES),
    ANSWERS,
    st.one_of(st.none(), st.none(), BUTTONS),
)
def test_every_intake_step_answers_in_the_persons_language(
    bot: PropertyBot, step: State, language: str, text: str, choice: str | None
) -> None:
    # A press carries no text (Telegram's callback query, Matrix's numbered answer is text).
    answers = bot.turn(bot.person(language, step), "" if choice is not None else text, choice)
    assert answers, "every message gets an answer"
    assert_in_language(language, answers)
    limit = bot.harness.services.settings.max_text_chars
    refusals = {render(language, r, limit=limit) for r in REFUSALS}
    if refusals.intersection(answers):
        assert not changed(bot.baseline, bot.dump()), "a refusal changes nothing"

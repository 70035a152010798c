from __future__ import annotations

from datetime import date, timedelta

import pytest

from handlers.commands import (
    MAX_COMMAND_LENGTH,
    SUBCOMMAND,
    Arg,
    ArgKind,
    CommandSpec,
    CommandTable,
    InputTooLong,
    UsageError,
    parse_args,
    split_command,
)

PRIORITY = CommandSpec(
    "priority",
    (
        Arg("case", ArgKind.CASE_REF, optional=True),
        Arg("level", ArgKind.CHOICE, choices=("critical", "high", "normal", "low")),
    ),
)
NOTE = CommandSpec(
    "note", (Arg("case", ArgKind.CASE_REF, optional=True), Arg("text", ArgKind.REST))
)
FOLLOWUP = CommandSpec("followup", (Arg("case", ArgKind.CASE_REF), Arg("after", ArgKind.DURATION)))
DEADLINE = CommandSpec("deadline", (Arg("appeal", ArgKind.APPEAL_REF), Arg("date", ArgKind.DATE)))


@pytest.mark.parametrize(
    "typed",
    [
        "/ack",
        "!ack",
        "/ACK",
        "!Ack",
        "/ack@SosBot",
        "/ack@sosbot_test_bot",
        "  /ack  ",
        "\u200f/ack",
    ],
)
def test_all_forms_of_a_command(typed: str) -> None:
    call = split_command(typed)
    assert call is not None and call.name == "ack" and call.rest == ""


def test_bot_name_is_kept_to_ignore_commands_for_other_bots() -> None:
    call = split_command("/ack@OtherBot C-7K4QM2")
    assert call is not None and call.addressed_to == "otherbot" and call.rest == "C-7K4QM2"


@pytest.mark.parametrize(
    "typed", ["ack", "hello /ack", "/", "!", "/1ack", "/ack!", "//ack", "/أكد"]
)
def test_not_commands(typed: str) -> None:
    assert split_command(typed) is None


def test_declared_arguments_are_parsed_in_any_case() -> None:
    call = split_command("/PRIORITY c7k4qm2 HIGH")
    assert call is not None
    assert parse_args(PRIORITY, call.rest) == {"case": "C-7K4QM2", "level": "high"}


def test_optional_reference_may_be_left_out() -> None:
    assert parse_args(PRIORITY, "low") == {"case": None, "level": "low"}
    assert parse_args(NOTE, "called the lawyer") == {"case": None, "text": "called the lawyer"}


def test_rest_keeps_the_text_as_typed() -> None:
    assert parse_args(NOTE, "C-7K4QM2  two  spaces <b>x</b>")["text"] == "two  spaces <b>x</b>"


def test_durations_and_dates_including_arabic_digits() -> None:
    assert parse_args(FOLLOWUP, "C-7K4QM2 14d")["after"] == timedelta(days=14)
    assert parse_args(FOLLOWUP, "C-7K4QM2 2H")["after"] == timedelta(hours=2)
    assert parse_args(FOLLOWUP, "C-7K4QM2 ١٤d")["after"] == timedelta(days=14)
    assert parse_args(DEADLINE, "A-9TXW3B 2026-12-01")["date"] == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("spec", "rest", "problem"),
    [
        (PRIORITY, "", "missing"),
        (PRIORITY, "C-7K4QM2 urgent", "bad_choice"),
        (PRIORITY, "C-7K4QM2 high extra", "too_many"),
        (FOLLOWUP, "C-7K4QM2 soon", "bad_duration"),
        (FOLLOWUP, "C-7K4QM2 0d", "bad_duration"),
        (FOLLOWUP, "7K4QM2XX 14d", "bad_reference"),
        (DEADLINE, "A-9TXW3B 2026-13-01", "bad_date"),
        (DEADLINE, "C-9TXW3B 2026-12-01", "bad_reference"),
        (NOTE, "C-7K4QM2", "missing"),
    ],
)
def test_usage_errors_carry_the_generated_usage(spec: CommandSpec, rest: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(spec, rest)
    assert caught.value.problem == problem
    assert caught.value.spec.usage() == spec.usage()


def test_generated_usage_lines() -> None:
    assert PRIORITY.usage() == "/priority [C-…] critical|high|normal|low"
    assert NOTE.usage() == "/note [C-…] text"
    assert FOLLOWUP.usage() == "/followup C-… after (14d, 2h…)"
    assert DEADLINE.usage() == "/deadline A-… YYYY-MM-DD"


APPEAL = CommandSpec.group(
    "appeal",
    CommandSpec("new", (Arg("case", ArgKind.CASE_REF, optional=True),)),
    CommandSpec(
        "text",
        (
            Arg("appeal", ArgKind.APPEAL_REF),
            Arg("language", ArgKind.CHOICE, choices=("en", "es")),
            Arg("text", ArgKind.REST),
        ),
    ),
    CommandSpec(
        "target", (Arg("appeal", ArgKind.APPEAL_REF), Arg("to", ArgKind.REST, shown="k=…"))
    ),
)


def test_subcommands_generate_one_usage_line_each() -> None:
    assert APPEAL.usage().split("\n") == [
        "/appeal new [C-…]",
        "/appeal text A-… en|es text",
        "/appeal target A-… k=…",
    ]


def test_the_first_word_picks_the_subcommand_and_its_arguments() -> None:
    assert parse_args(APPEAL, "TEXT a-9txw3b ES Hola a todas") == {
        SUBCOMMAND: "text",
        "appeal": "A-9TXW3B",
        "language": "es",
        "text": "Hola a todas",
    }
    assert parse_args(APPEAL, "new") == {SUBCOMMAND: "new", "case": None}


def test_a_subcommand_mistake_answers_with_the_closest_usage() -> None:
    everything = APPEAL.usage()
    for rest, problem, usage in [
        ("", "missing", everything),
        ("launch A-9TXW3B", "bad_choice", everything),
        ("text A-9TXW3B de Hallo", "bad_choice", "/appeal text A-… en|es text"),
        ("new C-7K4QM2 extra", "too_many", "/appeal new [C-…]"),
    ]:
        with pytest.raises(UsageError) as caught:
            parse_args(APPEAL, rest)
        assert (caught.value.problem, caught.value.spec.usage()) == (problem, usage), rest


def test_unicode_and_right_to_left_arguments() -> None:
    text = "\u200fC-7K4QM2 المدافعة تلقت تهديدا 🙏"
    assert parse_args(NOTE, split_command(f"!note {text}").rest) == {  # type: ignore[union-attr]
        "case": "C-7K4QM2",
        "text": "المدافعة تلقت تهديدا 🙏",
    }
    assert parse_args(NOTE, "C-7K4QM2 Défenseure à Bogotá")["text"] == "Défenseure à Bogotá"


def test_overlong_input_is_refused_before_parsing() -> None:
    with pytest.raises(InputTooLong):
        split_command("/note " + "x" * MAX_COMMAND_LENGTH)
    assert split_command("/note " + "x" * 1000) is not None


def test_command_table_refuses_a_word_declared_twice() -> None:
    table = CommandTable()
    table.add(CommandSpec("language", aliases=("lang",)))
    assert table.get("LANG") is table.get("language")
    with pytest.raises(ValueError):
        table.add(CommandSpec("lang"))

"""Chat commands that document themselves.

A command declares its arguments once; the parser checks them and the usage
line shown on a mistake is generated from the same declaration, so the two
never drift apart. A command with subcommands (``/appeal text A-… en …``)
declares each of them the same way, and its usage is one line per
subcommand. ``/cmd``, ``!cmd`` (Matrix clients swallow ``/``) and
``/cmd@BotName`` (Telegram groups) are the same command, in any case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import Enum, auto
from typing import Any

from handlers.refs import RefKind, parse_ref

MAX_COMMAND_LENGTH = 16_384
"""Longer input is refused before parsing (Matrix allows ~64 KiB events)."""

# Bidirectional controls that right-to-left keyboards insert around words.
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_COMMAND = re.compile(r"^[/!]([A-Za-z][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ArgKind(Enum):
    WORD = auto()  # one word
    CASE_REF = auto()  # C-XXXXXX
    APPEAL_REF = auto()  # A-XXXXXX
    CHOICE = auto()  # one of Arg.choices
    DURATION = auto()  # 30m, 2h, 14d, 2w
    DATE = auto()  # 2026-12-01
    REST = auto()  # the rest of the line, as typed


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind = ArgKind.WORD
    optional: bool = False
    choices: tuple[str, ...] = ()
    shown: str = ""
    """How the usage line shows the argument, where its name would not say
    enough (``region=… language=…``)."""

    def usage(self) -> str:
        if self.shown:
            shown = self.shown
        elif self.kind is ArgKind.CHOICE:
            shown = "|".join(self.choices)
        elif self.kind is ArgKind.CASE_REF:
            shown = "C-…"
        elif self.kind is ArgKind.APPEAL_REF:
            shown = "A-…"
        elif self.kind is ArgKind.DURATION:
            shown = f"{self.name} (14d, 2h…)"
        elif self.kind is ArgKind.DATE:
            shown = "YYYY-MM-DD"
        else:
            shown = self.name
        return f"[{shown}]" if self.optional else shown


SUBCOMMAND = "subcommand"
"""The key under which ``parse_args`` gives the subcommand word."""


@dataclass(frozen=True)
class CommandSpec:
    name: str  # "appeal", or "appeal text" for a subcommand
    args: tuple[Arg, ...] = ()
    aliases: tuple[str, ...] = ()
    subcommands: tuple[CommandSpec, ...] = ()

    @classmethod
    def group(cls, name: str, *subcommands: CommandSpec) -> CommandSpec:
        """``/name`` whose first word picks one of ``subcommands`` (named by that word)."""
        named = tuple(replace(s, name=f"{name} {s.name}") for s in subcommands)
        return cls(name, subcommands=named)

    @property
    def word(self) -> str:
        """The word that calls it: a subcommand's own word, without its command."""
        return self.name.rsplit(" ", 1)[-1]

    def subcommand(self, word: str) -> CommandSpec | None:
        return next((s for s in self.subcommands if s.word == word.casefold()), None)

    def usage(self) -> str:
        """The usage line; one line per subcommand for a command that has them."""
        if self.subcommands:
            return "\n".join(s.usage() for s in self.subcommands)
        return " ".join([f"/{self.name}", *(a.usage() for a in self.args)])


@dataclass(frozen=True)
class CommandCall:
    """A command word and its still-unparsed argument text."""

    name: str
    rest: str
    addressed_to: str | None = None  # the @BotName suffix, lower-cased


class UsageError(ValueError):
    """The arguments do not fit the declaration; ``spec.usage()`` tells how."""

    def __init__(self, spec: CommandSpec, problem: str, arg: Arg | None = None) -> None:
        super().__init__(problem)
        self.spec = spec
        self.problem = problem
        self.arg = arg


class InputTooLong(ValueError):
    pass


class BadArgument(ValueError):
    """An argument has the declared shape but a value the command cannot take
    (``region`` without ``=``): answered with the command's usage line."""


def normalize(text: str) -> str:
    """Drop bidirectional controls and normalise to NFC."""
    return unicodedata.normalize("NFC", text.translate(_BIDI_CONTROLS))


def split_command(text: str) -> CommandCall | None:
    """The command in ``text``, or None if the text is not a command."""
    if len(text) > MAX_COMMAND_LENGTH:
        raise InputTooLong(f"longer than {MAX_COMMAND_LENGTH} characters")
    cleaned = normalize(text).strip()
    match = _COMMAND.match(cleaned)
    if match is None:
        return None
    addressed = match.group(2).lower() if match.group(2) else None
    return CommandCall(match.group(1).lower(), cleaned[match.end() :].strip(), addressed)


def _digits(word: str) -> str:
    """Arabic-Indic and other decimal digits become ASCII digits."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in word)


def _convert(spec: CommandSpec, arg: Arg, word: str) -> Any:
    if arg.kind is ArgKind.CASE_REF or arg.kind is ArgKind.APPEAL_REF:
        kind = RefKind.CASE if arg.kind is ArgKind.CASE_REF else RefKind.APPEAL
        ref = parse_ref(word, kind)
        if ref is None:
            raise UsageError(spec, "bad_reference", arg)
        return ref
    if arg.kind is ArgKind.CHOICE:
        lowered = word.casefold()
        if lowered not in arg.choices:
            raise UsageError(spec, "bad_choice", arg)
        return lowered
    if arg.kind is ArgKind.DURATION:
        match = _DURATION.match(_digits(word).lower())
        if match is None or int(match.group(1)) == 0:
            raise UsageError(spec, "bad_duration", arg)
        return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})
    if arg.kind is ArgKind.DATE:
        try:
            return date.fromisoformat(_digits(word))
        except ValueError:
            raise UsageError(spec, "bad_date", arg) from None
    return word


def parse_args(spec: CommandSpec, rest: str) -> Mapping[str, Any]:
    """Match ``rest`` against ``spec.args``; missing optional args are None.

    An optional argument whose word does not fit is left out rather than
    failing, so ``/ask hello`` in reply to a card can omit the reference.
    For a command with subcommands the first word picks the subcommand
    (given under ``SUBCOMMAND``) and the rest is matched against its args.
    """
    if spec.subcommands:
        word, _, after = rest.strip().partition(" ")
        chosen = spec.subcommand(word) if word else None
        if chosen is None:
            raise UsageError(spec, "bad_choice" if word else "missing")
        return {SUBCOMMAND: chosen.word, **parse_args(chosen, after)}
    values: dict[str, Any] = {}
    remaining = rest.strip()
    for arg in spec.args:
        if arg.kind is ArgKind.REST:
            if not remaining and not arg.optional:
                raise UsageError(spec, "missing", arg)
            values[arg.name] = remaining or None
            remaining = ""
            continue
        word, _, after = remaining.partition(" ")
        if not word:
            if not arg.optional:
                raise UsageError(spec, "missing", arg)
            values[arg.name] = None
            continue
        try:
            values[arg.name] = _convert(spec, arg, word)
        except UsageError:
            if not arg.optional:
                raise
            values[arg.name] = None
            continue
        remaining = after.strip()
    if remaining:
        raise UsageError(spec, "too_many")
    return values


@dataclass
class CommandTable:
    """Command specs by name and alias."""

    specs: dict[str, CommandSpec] = field(default_factory=dict)

    def add(self, spec: CommandSpec) -> CommandSpec:
        for word in (spec.name, *spec.aliases):
            if word in self.specs:
                raise ValueError(f"command {word!r} declared twice")
            self.specs[word] = spec
        return spec

    def get(self, name: str) -> CommandSpec | None:
        return self.specs.get(name.lower())

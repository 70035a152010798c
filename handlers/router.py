"""Where every incoming message goes.

A transport calls ``Router.deliver`` with a neutral message and the
messenger of its platform. The router finds the account and its language,
applies the per-account rate limit, parses commands against their
declarations (a mistake is answered with the generated usage line) and
hands the turn to the module that owns it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers import appeals, casework, defender, members, triage
from handlers.commands import (
    Arg,
    ArgKind,
    CommandSpec,
    CommandTable,
    InputTooLong,
    UsageError,
    parse_args,
    split_command,
)
from handlers.i18n import current_language, supported
from handlers.messages import IncomingMessage
from handlers.messenger import Messenger
from handlers.services import Services
from handlers.turn import Turn
from storage import Account

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds of the per-sender rate limit

Run = Callable[[Turn, Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    spec: CommandSpec
    run: Run
    private_only: bool = True
    advisory: bool = False  # advisors only, checked before the arguments are read
    needs_account: bool = True
    """False for advisors' and members' commands: no account record is created
    for a person who only signs or triages (data minimisation, and one write
    less per signature)."""


def _defender_commands() -> list[Command]:
    case = Arg("case", ArgKind.CASE_REF)
    text = Arg("text", ArgKind.REST, optional=True)
    return [
        Command(CommandSpec("start"), lambda turn, a: defender.start(turn)),
        Command(CommandSpec("help"), lambda turn, a: turn_help(turn), private_only=False),
        Command(
            CommandSpec("language", aliases=("lang",)), lambda turn, a: defender.language(turn)
        ),
        Command(CommandSpec("report"), lambda turn, a: defender.report(turn)),
        Command(CommandSpec("sos", (text,)), lambda turn, a: defender.sos(turn, a["text"])),
        Command(CommandSpec("status"), lambda turn, a: defender.status(turn)),
        Command(
            CommandSpec("update", (case, text)),
            lambda turn, a: defender.update(turn, a["case"], a["text"]),
        ),
        Command(CommandSpec("cancel"), lambda turn, a: defender.cancel(turn)),
        Command(CommandSpec("forget"), lambda turn, a: defender.forget(turn)),
    ]


# Casework replaces triage's /close, /followup, /refer and /cases with richer ones.
TRIAGE_SPECS = {n: s for n, s in triage.SPECS.items() if n not in casework.SPECS}
ADVISOR_SPECS = (
    *TRIAGE_SPECS.values(),
    *casework.SPECS.values(),
    appeals.SPEC,
    members.MEMBER_SPEC,
)
MEMBER_SPECS = (
    members.SIGN_SPEC,
    members.UNSIGN_SPEC,
    members.REGISTER_SPEC,
    CommandSpec("mute"),
    CommandSpec("unmute"),
)


async def turn_help(turn: Turn) -> None:
    """What this person can do here: usage lines generated from the declarations."""
    if triage.allowed(turn):
        lines = [turn.t("Commands of the advisory group:"), *(s.usage() for s in ADVISOR_SPECS)]
        await turn.say("\n".join(lines))
    elif turn.msg.is_private:
        await defender.help_(turn)
    else:
        lines = [turn.t("Commands for member groups:"), *(s.usage() for s in MEMBER_SPECS)]
        await turn.say("\n".join(lines))


def _triage_commands() -> list[Command]:
    def runner(name: str) -> Run:
        return lambda turn, args: triage.run(turn, name, args)

    return [
        Command(spec, runner(name), private_only=False, advisory=True, needs_account=False)
        for name, spec in TRIAGE_SPECS.items()
    ] + [
        Command(spec, casework_runner(name), private_only=False, advisory=True, needs_account=False)
        for name, spec in casework.SPECS.items()
    ]


def casework_runner(name: str) -> Run:
    return lambda turn, args: casework.run(turn, name, args)


def _member_commands() -> list[Command]:
    def member_command(spec: CommandSpec, run: Run, advisory: bool = False) -> Command:
        return Command(spec, run, private_only=False, advisory=advisory, needs_account=False)

    return [
        member_command(appeals.SPEC, appeals.run, advisory=True),
        member_command(members.MEMBER_SPEC, members.member, advisory=True),
        member_command(members.REGISTER_SPEC, members.register),
        member_command(CommandSpec("mute"), lambda turn, a: members.mute(turn, True)),
        member_command(CommandSpec("unmute"), lambda turn, a: members.mute(turn, False)),
        member_command(
            members.SIGN_SPEC, lambda turn, a: members.sign(turn, a["appeal"], a["organisation"])
        ),
        member_command(
            members.UNSIGN_SPEC,
            lambda turn, a: members.sign(turn, a["appeal"], a["organisation"], undo=True),
        ),
    ]


class RateLimiter:
    """A sliding window per sender, against floods (SPEC §7).

    Floods happen in real time, so this reads a monotonic clock of its own,
    not the injected clock of deadlines (which the demo and tests move by
    hand): a fake clock that stands still must not lock people out.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    PRUNE_AT = 10_000  # senders remembered before the idle ones are dropped

    def _prune(self, now: float) -> None:
        for sender in [s for s, w in self._seen.items() if not w or now - w[-1] >= WINDOW]:
            del self._seen[sender]

    def allow(self, sender: str) -> bool:
        now = self.clock()
        window = self._seen[sender]
        while window and now - window[0] >= WINDOW:
            window.popleft()
        if len(self._seen) > self.PRUNE_AT:
            self._prune(now)
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        return True


class Router:
    def __init__(self, services: Services, bot_names: frozenset[str] = frozenset()) -> None:
        self.services = services
        self.bot_names = bot_names
        self.table = CommandTable()
        self.commands: dict[str, Command] = {}
        for command in (*_defender_commands(), *_triage_commands(), *_member_commands()):
            self.add(command)
        self.limiter = RateLimiter(services.settings.messages_per_minute)

    def add(self, command: Command) -> None:
        self.table.add(command.spec)
        self.commands[command.spec.name] = command

    async def start(self) -> None:
        """Background work that belongs to the handlers (none yet)."""

    async def stop(self) -> None:
        """Nothing to release yet."""

    async def deliver(self, msg: IncomingMessage, messenger: Messenger) -> None:
        settings = self.services.settings
        now = self.services.clock.now()
        account = await self._account(msg, now)
        language = account.language or supported(msg.language_hint) or settings.default_language
        token = current_language.set(language)
        turn = Turn(self.services, msg, messenger, account, language)
        try:
            if not self.limiter.allow(str(msg.sender)):
                if msg.is_private:
                    await turn.say(
                        turn.t("You are sending messages too fast. Please wait a minute.")
                    )
                return
            await self._dispatch(turn)
        finally:
            current_language.reset(token)

    def _command(self, msg: IncomingMessage) -> Command | None:
        try:
            call = split_command(msg.text) if msg.text and msg.choice is None else None
        except InputTooLong:
            return None
        spec = self.table.get(call.name) if call else None
        return self.commands.get(spec.name) if spec else None

    async def _account(self, msg: IncomingMessage, now: datetime) -> Account:
        """The sender's account: created only where a defender's conversation can
        happen (a private chat, not an advisor's or member's command)."""
        accounts = self.services.db.accounts
        command = self._command(msg)
        if msg.is_private and (command is None or command.needs_account):
            return await accounts.get_or_create(str(msg.sender), supported(msg.language_hint))
        found = await accounts.find(str(msg.sender))
        return found or Account(id=0, language=None, active=True, created_at=now)

    async def _dispatch(self, turn: Turn) -> None:
        msg = turn.msg
        try:
            call = split_command(msg.text) if msg.text and msg.choice is None else None
        except InputTooLong:
            await turn.say(turn.t("That message is too long. Nothing was saved."))
            return
        if call is not None:
            if call.addressed_to and self.bot_names and call.addressed_to not in self.bot_names:
                return  # a command for another bot in the same group
            spec = self.table.get(call.name)
            command = self.commands.get(spec.name) if spec else None
            if command is None:
                if msg.is_private:
                    await turn.say(
                        turn.t("I do not know that command. /help lists what you can do.")
                    )
                return
            if command.private_only and not msg.is_private:
                return
            if command.advisory and not triage.allowed(turn):
                await triage.refuse(turn)
                return
            try:
                args = parse_args(command.spec, call.rest)
            except UsageError as error:
                await turn.say(turn.t("Usage: {usage}", usage=error.spec.usage()))
                return
            await command.run(turn, args)
            return
        if msg.choice and await members.on_choice(turn):
            return
        if msg.is_private and not await defender.on_message(turn):
            await turn.say(
                turn.t(
                    "To report a threat, send /report. If you are in danger now, send /sos. "
                    "/help lists everything."
                )
            )

"""Where every incoming message goes.

A transport calls ``Router.deliver`` with a neutral message and the
messenger of its platform. The router finds the account and its language,
applies the per-account rate limit, parses commands against their
declarations (a mistake is answered with the generated usage line) and
hands the turn to the module that owns it.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers import defender, triage
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

log = logging.getLogger(__name__)

Run = Callable[[Turn, Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    spec: CommandSpec
    run: Run
    private_only: bool = True
    advisory: bool = False  # advisors only, checked before the arguments are read


def _defender_commands() -> list[Command]:
    case = Arg("case", ArgKind.CASE_REF)
    text = Arg("text", ArgKind.REST, optional=True)
    return [
        Command(CommandSpec("start"), lambda turn, a: defender.start(turn)),
        Command(CommandSpec("help"), lambda turn, a: defender.help_(turn), private_only=False),
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


def _triage_commands() -> list[Command]:
    def runner(name: str) -> Run:
        return lambda turn, args: triage.run(turn, name, args)

    return [
        Command(spec, runner(name), private_only=False, advisory=True)
        for name, spec in triage.SPECS.items()
    ]


class RateLimiter:
    """A sliding window per sender, against floods (SPEC §7)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = defaultdict(deque)

    def allow(self, sender: str, now: datetime) -> bool:
        window = self._seen[sender]
        while window and now - window[0] >= timedelta(minutes=1):
            window.popleft()
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
        for command in (*_defender_commands(), *_triage_commands()):
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
        account = await self.services.db.accounts.get_or_create(
            str(msg.sender), supported(msg.language_hint)
        )
        language = account.language or supported(msg.language_hint) or settings.default_language
        token = current_language.set(language)
        turn = Turn(self.services, msg, messenger, account, language)
        try:
            if not self.limiter.allow(str(msg.sender), now):
                if msg.is_private:
                    await turn.say(
                        turn.t("You are sending messages too fast. Please wait a minute.")
                    )
                return
            await self._dispatch(turn)
        finally:
            current_language.reset(token)

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
        if msg.is_private and not await defender.on_message(turn):
            await turn.say(
                turn.t(
                    "To report a threat, send /report. If you are in danger now, send /sos. "
                    "/help lists everything."
                )
            )

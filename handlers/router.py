"""Where every incoming message goes.

A transport calls ``Router.deliver`` with a neutral message and the
messenger of its platform. The router finds the account and its language,
applies the per-account rate limit, parses commands against their
declarations (a mistake is answered with the generated usage line) and
hands the turn to the module that owns it. The commands themselves are
declared in handlers/command_table.py.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime

from handlers import file_gate, guide, members, triage
from handlers.command_table import COMMANDS, Audience, Command, specs_for
from handlers.commands import (
    BadArgument,
    CommandTable,
    InputTooLong,
    UsageError,
    parse_args,
    split_command,
)
from handlers.conversation import flow
from handlers.errors import where
from handlers.i18n import current_language, render, supported
from handlers.messages import IncomingMessage
from handlers.messenger import Messenger
from handlers.services import Services
from handlers.signing import SignDesk
from handlers.turn import Turn
from storage import Account

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds of the per-sender rate limit


class RateLimiter:
    """A sliding window per sender, against floods (docs/spec.md §7).

    Floods happen in real time, so this reads a monotonic clock of its own,
    not the injected clock of deadlines (which the demo and tests move by
    hand): a fake clock that stands still must not lock people out.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._prune_at = self.PRUNE_AT

    PRUNE_AT = 10_000  # senders remembered before the idle ones are dropped

    def _prune(self, now: float) -> None:
        for sender in [s for s, w in self._seen.items() if not w or now - w[-1] >= WINDOW]:
            del self._seen[sender]
        # Amortised: when most senders are active (10,000 signing in a minute),
        # the next sweep waits until the map has doubled, not one message.
        self._prune_at = max(self.PRUNE_AT, 2 * len(self._seen))

    def would_allow(self, sender: str) -> bool:
        """Whether ``allow`` would let the next message through, without counting one."""
        window = self._seen.get(sender)
        if not window:
            return True
        now = self.clock()
        return sum(1 for seen in window if now - seen < WINDOW) < self.per_minute

    def allow(self, sender: str) -> bool:
        now = self.clock()
        window = self._seen[sender]
        while window and now - window[0] >= WINDOW:
            window.popleft()
        if len(self._seen) > self._prune_at:
            self._prune(now)
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        return True


class Router:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.table = CommandTable()
        self.commands: dict[str, Command] = {}
        for command in COMMANDS:
            self.add(command)
        self.limiter = RateLimiter(services.settings.messages_per_minute)
        self.signing = SignDesk(services, self.table, self.limiter.allow, self.limiter.would_allow)
        """Settles ``/sign`` messages that arrive together in one transaction."""
        self.failed_turns = 0
        """Turns rolled back by an error (for monitoring)."""
        self.on_failed: Callable[[IncomingMessage], None] | None = None
        """Told of each failed turn (bot/monitoring.py counts them per platform)."""

    def add(self, command: Command) -> None:
        self.table.add(command.spec)
        self.commands[command.spec.name] = command

    async def takes_files(self, msg: IncomingMessage) -> bool:
        """Asked by a transport before it downloads the files of ``msg`` (given without
        them): the sender is within the rate limit, then the message is a command
        that takes files or the sender's conversation takes them now
        (handlers/file_gate.py). Reads only; the message is delivered afterwards."""
        if msg.edited or not self.limiter.would_allow(str(msg.sender)):
            return False
        try:
            call = split_command(msg.text) if msg.text and msg.choice is None else None
        except InputTooLong:
            return False
        if call is not None:
            spec = self.table.get(call.name)
            command = self.commands.get(spec.name) if spec else None
            if command is None or command.spec.name not in file_gate.FILE_COMMANDS:
                return False
            return msg.is_private or not command.private_only  # /update: private chats only
        return await file_gate.conversation_takes_files(self.services, msg)

    async def deliver(self, msg: IncomingMessage, messenger: Messenger) -> None:
        """Handle one incoming message as ONE unit of work.

        Everything the turn decides (account, conversation, case, deadlines,
        audit entries and every message it answers with, queued in the
        outbox) commits together, group-committed with concurrent turns, or
        not at all. An exception anywhere rolls the turn back and the person
        is told the truth (``_failed``); the log gets its type and place only.
        """
        counted = False  # against the sender's rate limit
        request = self.signing.take(msg)
        if request is not None:
            if await self.signing.settle(msg, request):
                return
            counted = True  # not settled in the batch: the full turn decides, alone
        try:
            await self.services.db.run(lambda: self._turn(msg, messenger, counted))
        except Exception as exc:
            self.failed_turns += 1
            if self.on_failed is not None:
                self.on_failed(msg)
            log.error("turn failed: %s at %s", type(exc).__name__, where(exc))
            await self._failed(msg, messenger)

    async def _turn(
        self, msg: IncomingMessage, messenger: Messenger, counted: bool = False
    ) -> None:
        settings = self.services.settings
        now = self.services.clock.now()
        account = await self._account(msg, now)
        language = account.language or supported(msg.language_hint) or settings.default_language
        token = current_language.set(language)
        turn = Turn(self.services, msg, messenger, account, language)
        try:
            if msg.edited:
                await self._edited(turn)
                return
            if not counted and not self.limiter.allow(str(msg.sender)):
                if msg.is_private:
                    await turn.say(
                        turn.t("You are sending messages too fast. Please wait a minute.")
                    )
                return
            await self._dispatch(turn)
        finally:
            current_language.reset(token)

    async def _edited(self, turn: Turn) -> None:
        """An edit is never a second message. In rooms (commands, signatures) it is
        ignored; in a private chat the person is told once to send the correction
        as a new message (an answer already taken stays as it was)."""
        if turn.msg.is_private:
            await turn.say(
                turn.t(
                    "I do not read edited messages. If you want to correct something, "
                    "send the correction as a new message."
                )
            )

    async def _failed(self, msg: IncomingMessage, messenger: Messenger) -> None:
        """After a turn failed and was rolled back: tell the person what is true."""
        if not msg.is_private and not (msg.text.startswith(("/", "!")) or msg.choice):
            return  # ordinary talk in a group: nothing was asked of the bot
        settings = self.services.settings
        language = supported(msg.language_hint) or settings.default_language
        try:
            account = await self.services.db.accounts.find(str(msg.sender))
            if account is not None and account.language:
                language = account.language
            saved = await self._saved_case(account.id) if account and msg.is_private else None
            if saved:
                text = render(
                    language,
                    "Something went wrong and your last message was not saved. Your report is "
                    "saved as {ref}. Please send that message again.",
                    ref=saved,
                )
            else:
                text = render(
                    language,
                    "Something went wrong and nothing was saved. Please send it again.",
                )
            await self.services.db.run(
                lambda: self.services.post.send_text(msg.chat, text, language=language)
            )
        except Exception as exc:  # storage itself is failing: say so directly, once
            log.error("turn failure notice not queued: %s", type(exc).__name__)
            text = render(
                language, "Something went wrong and nothing was saved. Please send it again."
            )
            try:
                await messenger.send_text(msg.chat, text)  # the one send outside the outbox
            except Exception as again:
                log.error("turn failure notice not sent: %s", type(again).__name__)

    async def _saved_case(self, account_id: int) -> str | None:
        """The reference of the report this person is completing, if it is saved."""
        conversation = await self.services.db.conversations.load(account_id)
        if conversation is None:
            return None
        draft = conversation.data.get("draft") or {}
        ref = draft.get("sos_ref") if isinstance(draft, dict) else None
        return str(ref) if ref else None

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
            spec = self.table.get(call.name)
            command = self.commands.get(spec.name) if spec else None
            if command is None:
                if triage.allowed(turn):  # an advisor's typo: suggest the closest command
                    names = [s.name for s in specs_for(Audience.ADVISOR)]
                    await turn.say(guide.did_you_mean(turn, call.name, names))
                elif msg.is_private:
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
            try:
                await command.run(turn, args)
            except BadArgument:  # the shape fitted, a value did not (``region`` without ``=``)
                await turn.say(turn.t("Usage: {usage}", usage=command.spec.usage()))
            return
        if msg.choice and await members.on_choice(turn):
            return
        if msg.is_private and not await flow.on_message(turn):
            await turn.say(
                turn.t(
                    "To report a threat, send /report. If you are in danger now, send /sos. "
                    "/help lists everything."
                )
            )

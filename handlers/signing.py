"""Signatures in batches, for the minutes after an appeal goes out.

Thousands of member organisations may sign within a minute. One turn per
signature costs about twenty statements and ten milliseconds of CPU, so the
bot would top out near a hundred signatures a second. The ``SignDesk``
takes the ``/sign`` messages (and the Sign buttons pressed in groups) that
arrive together and settles them as ONE unit of work: the signatures, their
audit entries and every signer's confirmation are written with a few
set-based statements (``storage.repos.signatures``) and commit together.

    /sign A-… ──► request() ──► batch (those that arrived together)
                                  │  sign_many + one insert of confirmations
                                  ▼
                            commit ──► each caller: settled? done
                                       not settled ──► the full turn, alone

What the batch cannot settle without doubt (no organisation or several, an
appeal that is unknown, a draft, closed, or for organisations only) goes
back to its caller, which runs the ordinary turn, whose checks and answers
stay the only ones. If the batch fails as a whole it is rolled back and
every message in it runs alone, as a turn of its own: a turn that fails is
retried alone, the others are not lost. A signer is confirmed only after
the batch committed (the confirmation is queued in the same transaction).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from handlers import keys, members
from handlers.commands import CommandTable, InputTooLong, UsageError, parse_args, split_command
from handlers.errors import where
from handlers.i18n import supported
from handlers.keys import Kind
from handlers.messages import IncomingMessage
from handlers.refs import RefKind, parse_ref
from handlers.services import Services
from storage.repos.signatures import SignRequest

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Signatures settled in one transaction at the most."""


@dataclass(eq=False)
class _Waiting:
    msg: IncomingMessage
    request: SignRequest
    settled: asyncio.Future[bool]


class SignDesk:
    def __init__(
        self,
        services: Services,
        table: CommandTable,
        allow: Callable[[str], bool],
        would_allow: Callable[[str], bool],
    ) -> None:
        self.services = services
        self.table = table
        self._allow = allow
        self._would_allow = would_allow
        self._waiting: list[_Waiting] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.settled = 0

    def take(self, msg: IncomingMessage) -> SignRequest | None:
        """The signature ``msg`` asks for, if the batch may settle it; counts the
        message against the sender's rate limit when it does (the full turn
        does not count it again)."""
        request = self._request(msg)
        if request is None or not self._would_allow(request.signer):
            return None  # the full turn answers, and refuses a flood
        self._allow(request.signer)
        return request

    def _request(self, msg: IncomingMessage) -> SignRequest | None:
        if msg.edited:
            return None
        sender, chat = str(msg.sender), str(msg.chat)
        if msg.choice is not None:
            if msg.is_private:  # a press in a private chat keeps the person's account
                return None
            ref = parse_ref(keys.value_of(msg.choice, Kind.SIGN) or "", RefKind.APPEAL)
            return SignRequest(ref, sender, chat) if ref else None
        try:
            call = split_command(msg.text) if msg.text else None
        except InputTooLong:
            return None
        spec = self.table.get(call.name) if call else None
        if call is None or spec is None or spec.name != members.SIGN:
            return None
        try:
            args = parse_args(spec, call.rest)
        except UsageError:
            return None
        return SignRequest(args["appeal"], sender, chat, args["organisation"])

    async def settle(self, msg: IncomingMessage, request: SignRequest) -> bool:
        """Sign with the others waiting now; True once it is committed and the
        signer's confirmation queued, False if the full turn must decide."""
        settled: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(msg, request, settled))
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="sign-desk")
        return await settled

    async def _work(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                await asyncio.sleep(0)  # the messages that arrived together join the batch
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                outcome = await self._settle(batch)
                for waiting, settled in zip(batch, outcome, strict=True):
                    if not waiting.settled.done():
                        waiting.settled.set_result(settled)
        finally:  # cancelled (the bot stops): nobody may wait for an answer forever
            self._worker = None
            for waiting in (*batch, *self._waiting):
                if not waiting.settled.done():
                    waiting.settled.cancel()

    async def _settle(self, batch: list[_Waiting]) -> list[bool]:
        try:
            outcome = await self.services.db.run(lambda: self._sign(batch))
        except Exception as exc:  # rolled back whole: each runs again alone
            log.error("signature batch failed: %s at %s", type(exc).__name__, where(exc))
            return [False] * len(batch)
        self.batches += 1
        self.settled += sum(outcome)
        return outcome

    async def _sign(self, batch: list[_Waiting]) -> list[bool]:
        db, settings = self.services.db, self.services.settings
        results = await db.signatures.sign_many([w.request for w in batch])
        replies = []
        for waiting, result in zip(batch, results, strict=True):
            if result is None:
                continue
            msg = waiting.msg
            language = result.language or supported(msg.language_hint) or settings.default_language
            text = members.signed_text(
                language, result.organisation, waiting.request.ref, result.new
            )
            replies.append((msg.chat, text, language))
        await self.services.post.send_texts(replies)
        return [result is not None for result in results]

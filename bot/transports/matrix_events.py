"""What the bot does with each room job: messages, late keys, invites, removals.

Every method here runs inside its room's worker (matrix_queue.py), so one
room's events are handled in order.

An event that cannot be decrypted (its room key has not arrived) waits a
grace period: the key is requested, and decryption is retried after every
sync until the key is there or the grace timer runs out. Then the sender is
asked, in their language, to send the message again — once, until something
from them decrypts again. The events after it in the same room wait their
turn, so a conversation is never answered out of order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import (
    AsyncClient,
    JoinResponse,
    MegolmEvent,
    MessageDirection,
    RoomMessage,
    RoomMessagesResponse,
    StickerEvent,
)
from nio.exceptions import EncryptionError, LocalProtocolError

from bot.transports.base import Deliver, FileGate
from bot.transports.matrix_incoming import IncomingBuilder
from bot.transports.matrix_messenger import AccountBook, MatrixMessenger
from bot.transports.matrix_signal import SyncSignal
from bot.transports.matrix_state import SyncState
from handlers.i18n import render
from handlers.messages import Address, Platform
from handlers.messenger import DestinationGone, TransientSendError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
GIVEN_UP_KEPT = 1000


class RoomEvents:
    def __init__(
        self,
        user_id: str,
        state: SyncState,
        incoming: IncomingBuilder,
        messenger: MatrixMessenger,
        accounts: AccountBook,
        signal: SyncSignal,
        *,
        default_language: str,
        key_grace: float,
        grace_sleep: Sleep,
        gap_pages: int,
    ) -> None:
        self.user_id = user_id
        self.state = state
        self.incoming = incoming
        self.messenger = messenger
        self.accounts = accounts
        self.signal = signal
        self.default_language = default_language
        self.key_grace = key_grace
        self.grace_sleep = grace_sleep
        self.gap_pages = gap_pages
        self.client: AsyncClient | None = None  # set once logged in
        self.deliver: Deliver | None = None
        self.takes_files: FileGate | None = None
        self.stopping = asyncio.Event()
        self._given_up: set[str] = set()  # megolm sessions whose key never came
        self._asked_resend: set[tuple[str, str]] = set()  # (room, sender)

    def wanted(self, event: Any) -> bool:
        """Messages (and what may turn out to be one) from anyone but the bot."""
        if getattr(event, "sender", None) == self.user_id:
            return False
        return isinstance(event, RoomMessage | MegolmEvent | StickerEvent)

    def _client(self) -> AsyncClient:
        assert self.client is not None, "not started"
        return self.client

    def _done(self, event_id: str) -> None:
        self.state.mark_handled(event_id)
        self.state.save()

    # -------------------------------------------------------------- messages
    async def handle(self, room_id: str, event: Any) -> None:
        client = self._client()
        if self.state.was_handled(event.event_id):
            return  # replayed after a restart, already answered
        if isinstance(event, MegolmEvent):
            decrypted = await self._late_decrypt(room_id, event)
            if decrypted is None or not self.wanted(decrypted):
                self._done(event.event_id)
                return
            event = decrypted
        room = client.rooms.get(room_id)
        if room is None:
            return
        self._asked_resend.discard((room_id, event.sender))
        try:
            message = await self.incoming.build(client, room, event, self.takes_files)
            if message is not None and self.deliver is not None:
                if message.is_private:
                    await self.messenger.dms.remember(event.sender, room_id)  # reach them here
                log.debug("Matrix message delivered: %d attachments", len(message.attachments))
                await self.deliver(message, self.messenger)
        finally:
            # Handled even if the handler failed: a poison message is not replayed forever.
            self._done(event.event_id)

    async def _late_decrypt(self, room_id: str, event: MegolmEvent) -> Any | None:
        client = self._client()
        event.room_id = room_id
        decrypted = self._try_decrypt(event)
        if decrypted is not None:
            return decrypted
        if event.session_id not in self._given_up:
            log.info("Matrix event not decryptable yet; waiting for its key")
            try:
                await client.request_room_key(event)
            except LocalProtocolError:
                pass  # already requested for this session
            except Exception as exc:
                log.warning("Matrix key request failed: %s", type(exc).__name__)
            decrypted = await self._wait_for_key(event)
            if decrypted is not None:
                return decrypted
            if self.stopping.is_set():
                raise asyncio.CancelledError  # not handled: tried again after the restart
            if len(self._given_up) >= GIVEN_UP_KEPT:
                self._given_up.clear()
            self._given_up.add(str(event.session_id))
        await self._ask_resend(room_id, str(event.sender))
        return None

    def _try_decrypt(self, event: MegolmEvent) -> Any | None:
        try:
            return self._client().decrypt_event(event)
        except EncryptionError:
            return None

    async def _wait_for_key(self, event: MegolmEvent) -> Any | None:
        timer = asyncio.ensure_future(self.grace_sleep(self.key_grace))
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            while True:
                synced = asyncio.ensure_future(self.signal.next())
                done, _ = await asyncio.wait(
                    {timer, stopping, synced}, return_when=asyncio.FIRST_COMPLETED
                )
                synced.cancel()
                decrypted = self._try_decrypt(event)
                if decrypted is not None or timer in done or stopping in done:
                    return decrypted
        finally:
            timer.cancel()
            stopping.cancel()

    async def _ask_resend(self, room_id: str, sender: str) -> None:
        if (room_id, sender) in self._asked_resend:
            return  # once, until something from them decrypts again
        self._asked_resend.add((room_id, sender))
        account = await self.accounts.find(str(Address(Platform.MATRIX, sender)))
        language = (account.language if account else None) or self.default_language
        text = render(language, "I could not decrypt your last message. Please send it again.")
        try:
            await self.messenger.send_text(Address(Platform.MATRIX, room_id), text)
        except (DestinationGone, TransientSendError) as exc:
            log.warning("could not ask for a resend: %s", type(exc).__name__)
            return
        log.info("asked a sender to resend an undecryptable message")

    async def fill_gap(self, room_id: str, prev_batch: str, since: str) -> None:
        """Fetch what a limited timeline left out (more arrived than one sync holds)."""
        client = self._client()
        events: list[Any] = []
        start = prev_batch
        for _page in range(self.gap_pages):
            answer = await client.room_messages(
                room_id, start=start, end=since, direction=MessageDirection.back, limit=100
            )
            if not isinstance(answer, RoomMessagesResponse) or not answer.chunk:
                break
            events.extend(answer.chunk)
            if not answer.end or answer.end == start:
                break
            start = answer.end
        wanted = [e for e in reversed(events) if self.wanted(e)]
        log.info("Matrix gap filled: %d events", len(wanted))
        for event in wanted:
            await self.handle(room_id, event)

    # ----------------------------------------------------------- membership
    async def join(self, room_id: str, direct: bool) -> None:
        """Join an invite: a defender's direct room, a member group, the triage room."""
        client = self._client()
        for attempt in range(1, 4):
            answer = await client.join(room_id)
            if isinstance(answer, JoinResponse):
                if direct:
                    self.state.direct.add(room_id)
                    self.state.save()
                log.info("joined an invited room")
                return
            if answer.status_code == "M_LIMIT_EXCEEDED":
                await asyncio.sleep(min((answer.retry_after_ms or 1000) / 1000, 30.0))
            elif answer.status_code in ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN"):
                break  # the invite was withdrawn or the room is gone
            else:
                await asyncio.sleep(attempt)
        log.warning("could not join an invited room")

    async def left(self, room_id: str) -> None:
        """Removed (kicked, banned) or left: forget the room and stop sending there."""
        client = self._client()
        client.invited_rooms.pop(room_id, None)
        client.rooms.pop(room_id, None)
        try:
            await client.room_forget(room_id)
        except Exception as exc:
            log.warning("could not forget a room: %s", type(exc).__name__)
        self.state.direct.discard(room_id)
        # Removing the bot from a direct room is how a person blocks it on Matrix.
        user = await self.messenger.dms.user_of(room_id)
        if user is not None:
            await self.accounts.mark_inactive(str(Address(Platform.MATRIX, user)))
        await self.messenger.gone(Address(Platform.MATRIX, room_id))
        log.info("removed from a room; marked inactive")

"""``Messenger`` for Matrix: plain-text events, numbered choices, encrypted files.

Bodies are sent as ``m.text`` with ``body`` only — never ``formatted_body`` —
so nothing a person wrote can become HTML in anyone's client. Long texts
are split so that every event, once encrypted, stays under Matrix's 64 KiB.

A destination is a room (``matrix:!room:server``), an alias
(``matrix:#alias:server``) or a person (``matrix:@user:server``): a person is
reached in their direct room with the bot, created (end-to-end encrypted)
when there is none.

Errors: ``M_LIMIT_EXCEEDED`` is waited out (``retry_after_ms``, bounded
attempts); ``M_FORBIDDEN`` or a room the bot is not in marks the
destination inactive and raises ``DestinationGone``; network errors and 5xx
answers are retried, then raise ``TransientSendError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import uuid4

from aiohttp import ClientError
from nio import (
    AsyncClient,
    ErrorResponse,
    LocalProtocolError,
    MatrixRoom,
    OlmUnverifiedDeviceError,
    RoomCreateResponse,
    RoomPreset,
    RoomResolveAliasResponse,
    SendRetryError,
    UploadResponse,
)

from bot.transports.matrix_dms import DirectRooms
from bot.transports.matrix_http import MatrixApiError
from bot.transports.matrix_signal import SyncSignal, split_text
from bot.transports.matrix_state import SyncState
from bot.transports.matrix_store import forget_person as forget_in_store
from bot.transports.matrix_trust import DeviceTrust
from handlers.i18n import t
from handlers.messages import Address, Option, Platform, Sent
from handlers.messenger import DestinationGone, RateLimited, TransientSendError

log = logging.getLogger(__name__)

MEGOLM = "m.megolm.v1.aes-sha2"
GONE_CODES = frozenset({"M_FORBIDDEN"})
Sleep = Callable[[float], Awaitable[None]]


class HasLanguage(Protocol):
    @property
    def language(self) -> str | None: ...


class AccountBook(Protocol):
    """What the transport needs of ``db.accounts``."""

    async def find(self, address: str) -> HasLanguage | None: ...

    async def mark_inactive(self, address: str) -> object: ...


@dataclass(frozen=True)
class SendPolicy:
    attempts: int = 5
    max_wait: float = 60.0  # a longer retry_after is not waited out: TransientSendError
    network_delay: float = 1.0  # times the attempt number
    room_wait: float = 30.0  # for a newly created direct room to come down the sync


def _status(response: ErrorResponse) -> int:
    transport = getattr(response, "transport_response", None)
    return int(getattr(transport, "status", 0) or 0)


class MatrixMessenger:
    def __init__(
        self,
        accounts: AccountBook,
        state: SyncState,
        signal: SyncSignal,
        dms: DirectRooms,
        policy: SendPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.accounts = accounts
        self.state = state
        self.dms = dms
        self.signal = signal
        self.policy = policy or SendPolicy()
        self.sleep = sleep
        self.client: AsyncClient | None = None  # set by the transport once logged in
        self._dm_locks: dict[str, asyncio.Lock] = {}
        self.keys_lock = asyncio.Lock()
        self.trust = DeviceTrust()

    async def _language_of(self, user_id: str) -> str | None:
        account = await self.accounts.find(str(Address(Platform.MATRIX, user_id)))
        return account.language if account is not None else None

    # ------------------------------------------------------------ the protocol
    async def send_text(
        self,
        chat: Address,
        text: str,
        *,
        reply_to: str | None = None,
        txn_id: str | None = None,
    ) -> Sent:
        """``txn_id`` makes the send idempotent: the homeserver delivers a
        transaction id once per device, even when the send is repeated after
        a crash (the outbox passes its row id)."""
        first: Sent | None = None
        for number, part in enumerate(split_text(text)):
            content: dict[str, Any] = {"msgtype": "m.text", "body": part}
            if reply_to and first is None:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
            sent = await self._send(chat, content, f"{txn_id}.{number}" if txn_id else None)
            first = first or sent
        assert first is not None
        return first

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        if not options:
            return await self.send_text(chat, text, txn_id=txn_id)
        lines = [f"{number}. {option.label}" for number, option in enumerate(options, 1)]
        hint = t("Answer with the number or the word.")
        return await self.send_text(chat, "\n".join([text, "", *lines, hint]), txn_id=txn_id)

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        client = self._client()
        _room_id, room = await self._target(chat)
        encrypted = bool(room.encrypted)
        # In an encrypted room the server sees neither the name nor the type of the file.
        upload_name = None if encrypted else filename
        mime = mime_type or "application/octet-stream"
        uploaded, keys = await self._retrying(
            chat,
            lambda: client.upload(
                lambda _got_429, _got_timeouts: data,
                content_type=mime,
                filename=upload_name,
                encrypt=encrypted,
                filesize=len(data),
            ),
        )
        assert isinstance(uploaded, UploadResponse)
        content: dict[str, Any] = {
            "msgtype": "m.image" if mime.startswith("image/") else "m.file",
            "body": caption or filename,
            "filename": filename,
            "info": {"mimetype": mime, "size": len(data)},
        }
        if encrypted:
            assert keys is not None
            content["file"] = {"url": uploaded.content_uri, **keys}
        else:
            content["url"] = uploaded.content_uri
        return await self._send(chat, content)

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        body = split_text(text)[0]
        content = {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_id},
        }
        try:
            await self._send(chat, content)
        except TransientSendError:
            return False
        return True

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        client = self._client()
        room_id, _room = await self._target(chat)
        tx = str(uuid4())
        try:
            await self._retrying(
                chat, lambda: client.room_redact(room_id, message_id, tx_id=tx), room_id
            )
        except TransientSendError:
            return False
        return True

    def mention(self, account: Address) -> str:
        return account.id

    async def is_encrypted(self, chat: Address) -> bool:
        client = self._client()
        if chat.id.startswith("@"):
            known = await self.dms.room_of(chat.id)
            if known is None or not self._is_dm_with(known, chat.id):
                return True  # the direct room the bot would create is encrypted
            room_id = known
        else:
            room_id = await self._room_for(chat)
        room = client.rooms.get(room_id)
        return bool(room is not None and room.encrypted)

    async def forget_person(self, account: Address) -> None:
        """After /forget: leave and forget the person's direct rooms, drop the
        mapping from the database and what nio's store keeps of them."""
        client = self._client()
        user_id = account.id
        rooms = {r for r in client.rooms if self._is_dm_with(r, user_id)}
        mapped = await self.dms.forget_user(user_id)
        if mapped is not None:
            rooms.add(mapped)
        for room_id in rooms:
            try:
                await client.room_leave(room_id)
                await client.room_forget(room_id)
            except (ClientError, TimeoutError) as exc:  # erased anyway; the room stays joined
                log.warning("Matrix: could not leave a direct room: %s", type(exc).__name__)
            self.state.direct.discard(room_id)
        forget_in_store(client, user_id, rooms)
        for room_id in rooms:
            client.rooms.pop(room_id, None)
        self.state.save()
        self.trust.forget([user_id])
        log.info("Matrix: left %d direct rooms after /forget", len(rooms))

    # -------------------------------------------------------------- plumbing
    def _client(self) -> AsyncClient:
        if self.client is None or not self.signal.ready.is_set():
            raise TransientSendError("matrix: not connected yet")
        return self.client

    async def _target(self, chat: Address) -> tuple[str, MatrixRoom]:
        """The room for a destination, which the bot must be in."""
        room_id = await self._room_for(chat)
        room = self._client().rooms.get(room_id)
        if room is None:
            raise await self.gone(chat)
        return room_id, room

    async def _send(
        self, chat: Address, content: dict[str, Any], txn_id: str | None = None
    ) -> Sent:
        client = self._client()
        room_id, room = await self._target(chat)
        tx = txn_id or str(uuid4())  # the same on every retry: the server sends it once

        async def attempt() -> Any:
            for _ in range(2):
                if room.encrypted:  # someone invited a moment ago must get the room key too
                    await self.refresh_keys(client)
                    direct = chat.id.startswith("@") or room_id in self.state.direct
                    try:
                        await self.trust.prepare(
                            client, room_id, room, self._language_of, direct=direct
                        )
                    except MatrixApiError as exc:  # no verdict, no key: never send blind
                        raise TransientSendError("matrix: device keys unavailable") from exc
                try:  # only devices cross-signed by their owners get the key (matrix_trust.py)
                    return await client.room_send(
                        room_id,
                        "m.room.message",
                        content,
                        tx_id=tx,
                        ignore_unverified_devices=False,
                    )
                except OlmUnverifiedDeviceError as exc:  # appeared after the check: check again
                    self.trust.forget([exc.device.user_id])
            raise TransientSendError("matrix: device list still changing")

        response = await self._retrying(chat, attempt, room_id, outbox=txn_id is not None)
        return Sent(chat, str(response.event_id))

    async def refresh_keys(self, client: AsyncClient) -> None:
        """Fetch the device keys of newly tracked users (after every sync, and before sending)."""
        async with self.keys_lock:
            if client.should_query_keys:
                changed = set(client.users_for_key_query)
                await client.keys_query()
                self.trust.forget(changed)  # their device lists changed: re-check the chains

    async def _retrying(
        self,
        chat: Address,
        call: Callable[[], Awaitable[Any]],
        room_id: str | None = None,
        gone_codes: frozenset[str] = GONE_CODES,
        *,
        outbox: bool = False,
    ) -> Any:
        """Run one API call with Matrix's errors turned into ours. ``outbox``: the
        caller (the dispatcher's lane) owns rate limits, so a rate limit is raised
        as ``RateLimited`` for its gate to learn, never waited out here."""
        last: BaseException | None = None
        for attempt in range(1, self.policy.attempts + 1):
            try:
                result = await call()
            except LocalProtocolError as exc:  # nio: "No such room", or its own state
                if room_id is not None and room_id not in self._client().rooms:
                    raise await self.gone(chat) from None
                raise TransientSendError("matrix: client state") from exc
            except (ClientError, TimeoutError, SendRetryError) as exc:
                last = exc
                await self.sleep(self.policy.network_delay * attempt)
                continue
            response = result[0] if isinstance(result, tuple) else result
            if not isinstance(response, ErrorResponse):
                return result
            code, status = response.status_code, _status(response)
            if code == "M_LIMIT_EXCEEDED" or status == 429:
                wait = (response.retry_after_ms or 1000) / 1000
                if outbox or wait > self.policy.max_wait:
                    raise RateLimited(wait, f"matrix: rate limited for {wait:.0f} s")
                log.info("Matrix rate limit: waiting %.1f s", wait)
                await self.sleep(wait)
                continue
            if code in gone_codes:
                raise await self.gone(chat)
            if status >= 500 or status == 0:
                await self.sleep(self.policy.network_delay * attempt)
                continue
            raise TransientSendError(f"matrix: refused ({code or status})")
        raise TransientSendError("matrix: gave up after retries") from last

    async def gone(self, chat: Address) -> DestinationGone:
        """Mark a destination inactive; the caller raises what this returns."""
        if chat.id.startswith("@"):
            await self.dms.forget_user(chat.id)
        elif chat.id.startswith("!"):
            await self.dms.forget_room(chat.id)
        await self.accounts.mark_inactive(str(chat))
        return DestinationGone("matrix: not in that room any more")

    async def _room_for(self, chat: Address) -> str:
        ident = chat.id
        if ident.startswith("!"):
            return ident
        if ident.startswith("#"):
            client = self._client()
            answer = await client.room_resolve_alias(ident)
            if isinstance(answer, RoomResolveAliasResponse):
                return str(answer.room_id)
            raise await self.gone(chat)
        if ident.startswith("@"):
            lock = self._dm_locks.setdefault(ident, asyncio.Lock())
            async with lock:
                return await self._direct_room(chat)
        raise DestinationGone("matrix: not a room, alias or user id")

    def _is_dm_with(self, room_id: str, user_id: str) -> bool:
        room = self._client().rooms.get(room_id)
        return room is not None and set(room.users) == {self._client().user_id, user_id}

    async def _direct_room(self, chat: Address) -> str:
        client, user_id = self._client(), chat.id
        known = await self.dms.room_of(user_id)
        if known and self._is_dm_with(known, user_id):
            return known
        candidates = [r for r in client.rooms.values() if self._is_dm_with(r.room_id, user_id)]
        if candidates:
            room_id = str(max(candidates, key=lambda r: bool(r.encrypted)).room_id)
        else:
            # createRoom succeeds even when the invite cannot: ask first whether they exist.
            try:
                profile = await client.get_profile(user_id)
            except (ClientError, TimeoutError) as exc:
                raise TransientSendError("matrix: profile lookup failed") from exc
            if isinstance(profile, ErrorResponse) and _status(profile) == 404:
                raise await self.gone(chat)  # 403 and others: the server may hide profiles
            created = await self._retrying(
                chat,
                lambda: client.room_create(
                    is_direct=True,
                    preset=RoomPreset.trusted_private_chat,
                    invite=[user_id],
                    initial_state=[
                        {
                            "type": "m.room.encryption",
                            "state_key": "",
                            "content": {"algorithm": MEGOLM},
                        }
                    ],
                ),
            )
            assert isinstance(created, RoomCreateResponse)
            room_id = str(created.room_id)
            self.state.direct.add(room_id)
            log.info("created a direct room")
            # The invite must be in the room's state too, or the person gets no room key.
            if not await self.signal.wait_until(
                lambda: user_id in getattr(client.rooms.get(room_id), "users", {}),
                self.policy.room_wait,
            ):
                raise TransientSendError("matrix: the new direct room did not arrive")
        await self.dms.remember(user_id, room_id)
        return room_id

"""Helpers for the Matrix transport tests: people as real E2EE nio clients,
in-memory stand-ins for ``db.bot_secrets`` and ``db.accounts``, a recording
``deliver`` and a grace-period timer the test expires by hand.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)

from bot.transports.matrix import MatrixOptions, MatrixTransport
from bot.transports.matrix_crosssign import CrossSigner, Outcome
from bot.transports.matrix_keys import exchange_keys
from bot.transports.matrix_messenger import SendPolicy
from handlers.messages import IncomingMessage
from handlers.messenger import Messenger
from tests.servers.synapse import SynapseServer

SYNC_MS = 200
WAIT = 20.0
MEGOLM = "m.megolm.v1.aes-sha2"


def encryption_state() -> list[dict[str, Any]]:
    """A new room's initial state that turns Megolm encryption on."""
    return [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}]


def localpart(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Account:
    """A new account on the test Synapse, with the device its registration logged in."""

    user_id: str
    password: str
    token: str
    device_id: str


async def register(server: SynapseServer, name: str) -> Account:
    """An account ``name-<random>`` with a random password (registered off the event loop)."""
    password = uuid.uuid4().hex
    user_id, token, device_id = await asyncio.to_thread(
        server.register_user, localpart(name), password
    )
    return Account(user_id, password, token, device_id)


class MemorySecrets:
    """Stand-in for ``db.bot_secrets`` (the real one encrypts at rest)."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    async def get(self, name: str) -> bytes | None:
        return self.values.get(name)

    async def put(self, name: str, value: bytes) -> None:
        self.values[name] = value

    async def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


@dataclass(frozen=True)
class FakeAccount:
    language: str | None


@dataclass
class MemoryAccounts:
    """Stand-in for ``db.accounts``: languages by address, inactive marks."""

    languages: dict[str, str] = field(default_factory=dict)
    inactive: list[str] = field(default_factory=list)

    async def find(self, address: str) -> FakeAccount | None:
        language = self.languages.get(address)
        return FakeAccount(language) if language else None

    async def mark_inactive(self, address: str) -> bool:
        self.inactive.append(address)
        return True


Reply = Callable[[IncomingMessage, Messenger], Awaitable[None]]


class Recorder:
    """A ``deliver`` that records every message (and may answer)."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.messages: list[IncomingMessage] = []
        self.reply = reply
        self._changed = asyncio.Event()

    async def __call__(self, msg: IncomingMessage, messenger: Messenger) -> None:
        self.messages.append(msg)
        self._changed.set()
        if self.reply is not None:
            await self.reply(msg, messenger)

    async def wait_for(self, count: int, seconds: float = WAIT) -> list[IncomingMessage]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"got {len(self.messages)} of {count} messages"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
        return self.messages


class ManualTimer:
    """The grace-period timer: it runs out only when the test says so."""

    def __init__(self) -> None:
        self.started = 0
        self._expired = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.started += 1
        await self._expired.wait()

    def expire(self) -> None:
        self._expired.set()


async def wait_until(condition: Callable[[], bool], what: str, seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


class Peer:
    """A defender or advisor: a real nio client with end-to-end encryption."""

    def __init__(self, client: AsyncClient, password: str) -> None:
        self.client = client
        self.password = password
        self.seeds = MemorySecrets()  # the cross-signing keys, as the user's Element keeps them
        self.events: list[tuple[str, Any]] = []  # (room id, event), decrypted where possible
        self._undecrypted: list[tuple[str, MegolmEvent]] = []

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def sync(self, timeout_ms: int = SYNC_MS) -> SyncResponse:
        client = self.client
        response = await client.sync(timeout=timeout_ms, full_state=not client.next_batch)
        assert isinstance(response, SyncResponse), response
        await exchange_keys(client)
        for room_id, event in list(self._undecrypted):
            try:
                self.events.append((room_id, client.decrypt_event(event)))
                self._undecrypted.remove((room_id, event))
            except EncryptionError:
                pass
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, MegolmEvent):
                    self._undecrypted.append((room_id, event))
                else:
                    self.events.append((room_id, event))
        return response

    async def until(self, condition: Callable[[], bool], what: str, seconds: float = WAIT) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"{self.user_id}: gave up waiting for {what}"
            await self.sync()

    def bodies(self, room_id: str, sender: str) -> list[str]:
        return [
            str(e.source["content"].get("body"))
            for r, e in self.events
            if r == room_id and e.sender == sender and e.source.get("type") == "m.room.message"
        ]

    def from_sender(self, room_id: str, sender: str) -> list[Any]:
        return [
            e
            for r, e in self.events
            if r == room_id and e.sender == sender and e.source.get("type") == "m.room.message"
        ]

    async def new_room(self, name: str, invite: list[str], *, encrypted: bool = True) -> str:
        """Create a room (Megolm-encrypted unless told otherwise) inviting ``invite``."""
        created = await self.client.room_create(
            name=name, invite=invite, initial_state=encryption_state() if encrypted else []
        )
        assert isinstance(created, RoomCreateResponse), created
        return str(created.room_id)

    async def open_dm(self, bot: MatrixTransport, *, direct: bool = True) -> str:
        """Create an encrypted room with the bot and wait until it can talk there."""
        created = await self.client.room_create(
            is_direct=direct,
            preset=RoomPreset.trusted_private_chat if direct else RoomPreset.private_chat,
            invite=[bot.user_id],
            initial_state=encryption_state(),
        )
        assert isinstance(created, RoomCreateResponse), created
        room_id = str(created.room_id)
        await self.wait_for_member(room_id, bot)
        return room_id

    async def wait_for_member(self, room_id: str, bot: MatrixTransport) -> None:
        assert bot.client is not None
        device_id = bot.client.device_id

        def ready() -> bool:
            room = self.client.rooms.get(room_id)
            if room is None or bot.user_id not in room.users or room.users[bot.user_id].invited:
                return False
            devices = self.client.device_store.active_user_devices(bot.user_id)
            return not room.encrypted or any(d.device_id == device_id for d in devices)

        await self.until(ready, "the bot to join with its device")
        await wait_until(lambda: room_id in bot.client.rooms, "the bot to see the room")  # type: ignore[union-attr]

    async def say(self, room_id: str, text: str) -> str:
        sent = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, RoomSendResponse), sent
        return str(sent.event_id)

    async def send_file(
        self,
        room_id: str,
        data: bytes,
        *,
        msgtype: str,
        name: str,
        mimetype: str,
        size: int | None = None,
    ) -> None:
        """Upload ``data`` encrypted and post it as Element does; ``size`` is what the
        event claims (the true size unless given)."""
        uploaded, keys = await self.client.upload(
            lambda _a, _b: data, content_type=mimetype, encrypt=True, filesize=len(data)
        )
        assert isinstance(uploaded, UploadResponse), uploaded
        assert keys is not None
        content = {
            "msgtype": msgtype,
            "body": name,
            "info": {"mimetype": mimetype, "size": len(data) if size is None else size},
            "file": {"url": uploaded.content_uri, **keys},
        }
        await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )

    async def join(self, room_id: str) -> None:
        await self.until(lambda: room_id in self.client.invited_rooms, "the invite")
        joined = await self.client.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        await self.until(lambda: room_id in self.client.rooms, "the joined room")


async def log_in(
    server: SynapseServer, store: Path, user_id: str, password: str, device_name: str
) -> Peer:
    """A new device (session) of ``user_id``, not cross-signed yet."""
    await asyncio.to_thread(store.mkdir)
    client = AsyncClient(
        server.base_url,
        user_id,
        store_path=os.fspath(store),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
    )
    login = await client.login(password, device_name=device_name)
    assert isinstance(login, LoginResponse), login
    peer = Peer(client, password)
    await peer.sync(timeout_ms=0)  # uploads the device keys
    return peer


async def cross_sign(peer: Peer, seeds: MemorySecrets) -> None:
    """Cross-sign the peer's device as Element does at sign-up or on verifying a
    new session: the first call creates the user's master and self-signing
    keys (kept in ``seeds``), later ones sign another device with them."""
    assert peer.client.olm is not None
    signer = CrossSigner(peer.client, peer.password, seeds, peer.client.olm.sign_json)
    outcome = await signer.ensure()
    assert outcome in (Outcome.CREATED, Outcome.SIGNED, Outcome.ALREADY), outcome


async def new_peer(server: SynapseServer, tmp: Path, name: str, *, signed: bool = True) -> Peer:
    account = await register(server, name)
    peer = await log_in(
        server, tmp / f"{name}-store", account.user_id, account.password, f"{name}-device"
    )
    if signed:  # Element cross-signs every new account's first session
        await cross_sign(peer, peer.seeds)
    return peer


@dataclass
class BotKit:
    """One bot account, its store folder and stand-ins; transports made on demand."""

    server: SynapseServer
    user_id: str
    password: str
    store_dir: Path
    secrets: MemorySecrets = field(default_factory=MemorySecrets)
    accounts: MemoryAccounts = field(default_factory=MemoryAccounts)
    timer: ManualTimer = field(default_factory=ManualTimer)
    started: list[MatrixTransport] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)

    def transport(
        self, *, max_attachment_bytes: int = 1_000_000, **options: Any
    ) -> MatrixTransport:
        settings: dict[str, Any] = {
            "sync_timeout_ms": SYNC_MS,
            "key_grace": 30.0,
            "grace_sleep": self.timer,
            "send": SendPolicy(network_delay=0.05),
        }
        settings.update(options)
        return MatrixTransport(
            self.server.base_url,
            self.user_id,
            self.password,
            self.store_dir,
            secrets=self.secrets,
            accounts=self.accounts,
            max_attachment_bytes=max_attachment_bytes,
            device_name="sosbot-test",
            options=MatrixOptions(**settings),
        )

    async def start(
        self, recorder: Recorder, *, max_attachment_bytes: int = 1_000_000, **options: Any
    ) -> MatrixTransport:
        bot = self.transport(max_attachment_bytes=max_attachment_bytes, **options)
        await bot.start(recorder)
        self.started.append(bot)
        return bot

    async def stop(self, bot: MatrixTransport) -> None:
        await bot.stop()
        self.started.remove(bot)

    async def person(self, name: str, tmp: Path, *, signed: bool = True) -> Peer:
        peer = await new_peer(self.server, tmp, name, signed=signed)
        self.peers.append(peer)
        return peer

    async def second_device(self, peer: Peer, tmp: Path, name: str) -> Peer:
        """Another session of the same person, which they have not verified."""
        other = await log_in(self.server, tmp / f"{name}-store", peer.user_id, peer.password, name)
        self.peers.append(other)
        return other

    async def close(self) -> None:
        for bot in list(self.started):
            await self.stop(bot)
        for peer in self.peers:
            await peer.client.close()

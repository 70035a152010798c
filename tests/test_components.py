"""Prove the PostgreSQL and Synapse test components work (tests/servers/fixtures.py).

The E2EE test doubles as the reference for driving matrix-nio 0.26 (vodozemac)
against a real Synapse without ``sync_forever``.  The call sequence that works:

1. ``register_user`` via the shared-secret admin API (user only; its token is
   not used by nio).
2. ``client = AsyncClient(base_url, user_id, store_path=<existing dir>,
   config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True))``
   then ``await client.login(password, device_name=...)``.  ``login`` creates
   the device and loads/creates the Olm account in the sqlite store.
3. After every ``await client.sync(timeout=ms, full_state=...)`` do the
   housekeeping ``sync_forever`` would do (``bot.transports.matrix_keys.exchange_keys``):
   ``send_to_device_messages()``; ``keys_upload()`` if ``should_upload_keys``;
   ``keys_query()`` if ``should_query_keys``; ``keys_claim(get_users_for_key_claiming())``
   if ``should_claim_keys``.  The first ``keys_upload`` publishes device and
   one-time keys -- without it the peer cannot claim an OTK and no Olm
   session (hence no room key) can be established.
4. Sender: ``room_create(invite=[peer], initial_state=[m.room.encryption
   m.megolm.v1.aes-sha2])``; sync until the peer shows up as *joined* in
   ``client.rooms[room_id].users`` and its device is in
   ``client.device_store.active_user_devices(peer)`` (the join puts the peer in
   ``device_lists.changed``, so the housekeeping ``keys_query`` fetches it).
5. Receiver: sync until ``room_id in client.invited_rooms``, ``join(room_id)``,
   sync again until ``room_id in client.rooms``.
6. Sender: ``room_send(room_id, "m.room.message", content,
   ignore_unverified_devices=True)``.  nio then claims OTKs for devices without
   an Olm session, creates the outbound Megolm session, sends the
   ``m.room_key`` to-device (Olm-encrypted) and the ``m.room.encrypted`` event.
   Without ``ignore_unverified_devices=True`` it raises ``OlmUnverifiedDeviceError``.
7. Receiver: sync until the timeline contains the event.  nio processes the
   to-device ``m.room_key`` before the timeline of the same sync, so the event
   normally arrives already decrypted as ``RoomMessageText`` with
   ``decrypted=True``.  If it arrives as ``MegolmEvent`` (key not yet there),
   keep syncing and retry ``client.decrypt_event(event)``.
8. ``await client.close()`` for every client (otherwise aiohttp's unclosed
   session warning becomes an error under ``filterwarnings=error``).
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.transports.matrix_keys import exchange_keys
from tests.servers import fixtures as components
from tests.servers.postgres import PostgresServer
from tests.servers.synapse import SynapseHTTPError, SynapseServer

SYNC_TIMEOUT_MS = 1_000  # long-poll per sync; loops below are bounded by WAIT_SECONDS
WAIT_SECONDS = 30.0
MEGOLM = "m.megolm.v1.aes-sha2"


# --------------------------------------------------------------------------- PostgreSQL


async def test_postgres_roundtrip_and_dump(postgres_server: PostgresServer) -> None:
    marker = f"plaintext-canary-{uuid.uuid4().hex}"
    url = postgres_server.create_database("components_roundtrip")
    assert url == (
        f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_server.port}/components_roundtrip"
    )

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
            )
            await conn.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": marker})
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT body FROM notes"))).scalars().all()
        assert rows == [marker]
    finally:
        await engine.dispose()

    dump = await asyncio.to_thread(postgres_server.dump, "components_roundtrip")
    assert b"CREATE TABLE public.notes" in dump
    assert marker.encode() in dump


async def test_postgres_databases_are_isolated(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    # postgres_url is a fresh database; one created with the same name as an
    # existing database is recreated empty.
    url = postgres_server.create_database("components_isolated")
    for target in (url, postgres_url):
        engine = create_async_engine(target)
        try:
            async with engine.begin() as conn:
                count = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM information_schema.tables"
                            " WHERE table_schema = 'public'"
                        )
                    )
                ).scalar_one()
                assert count == 0
                await conn.execute(text("CREATE TABLE t (x int)"))
        finally:
            await engine.dispose()
    url_again = postgres_server.create_database("components_isolated")
    engine = create_async_engine(url_again)
    try:
        async with engine.connect() as conn:
            exists = (
                await conn.execute(text("SELECT to_regclass('public.t') IS NOT NULL"))
            ).scalar_one()
        assert exists is False
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------ CI skip rule


def test_missing_component_skips_locally_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        components.component_missing("no postgres")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="no postgres"):
        components.component_missing("no postgres")


# ------------------------------------------------------------------------------ Matrix


def _localpart(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def sync_once(client: AsyncClient, timeout_ms: int = SYNC_TIMEOUT_MS) -> SyncResponse:
    """One ``sync`` plus the E2EE housekeeping ``sync_forever`` would do."""
    response = await client.sync(timeout=timeout_ms, full_state=client.next_batch is None)
    assert isinstance(response, SyncResponse), response
    await exchange_keys(client)
    return response


async def sync_until(
    client: AsyncClient,
    condition: Callable[[], bool],
    what: str,
    wait_seconds: float = WAIT_SECONDS,
) -> None:
    deadline = time.monotonic() + wait_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{client.user_id}: gave up after {wait_seconds}s waiting for {what}"
            )
        await sync_once(client)


@pytest.fixture
async def e2ee_pair(
    synapse_server: SynapseServer, tmp_path: Path
) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    """Two logged-in E2EE nio clients (alice, bob) on the session Synapse."""
    clients: list[AsyncClient] = []
    try:
        for name in ("alice", "bob"):
            localpart, password = _localpart(name), uuid.uuid4().hex
            user_id, _token, _device = await asyncio.to_thread(
                synapse_server.register_user, localpart, password
            )
            store = tmp_path / f"{name}-store"
            store.mkdir()
            client = AsyncClient(
                synapse_server.base_url,
                user_id,
                store_path=os.fspath(store),
                config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
            )
            clients.append(client)
            login = await client.login(password, device_name=f"{name}-test-device")
            assert isinstance(login, LoginResponse), login
            assert client.olm is not None, "nio E2EE support (vodozemac) is not available"
            await sync_once(client, timeout_ms=0)  # initial sync + keys_upload
            assert not client.should_upload_keys
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


async def test_synapse_e2ee_roundtrip(
    synapse_server: SynapseServer, e2ee_pair: tuple[AsyncClient, AsyncClient]
) -> None:
    alice, bob = e2ee_pair
    secret = f"top secret {uuid.uuid4().hex}"

    created = await alice.room_create(
        name="components e2ee",
        invite=[bob.user_id],
        initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    )
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id

    await sync_until(bob, lambda: room_id in bob.invited_rooms, "the invite")
    joined = await bob.join(room_id)
    assert isinstance(joined, JoinResponse), joined
    await sync_until(
        bob, lambda: room_id in bob.rooms and bob.rooms[room_id].encrypted, "the joined room"
    )

    def alice_ready() -> bool:
        room = alice.rooms.get(room_id)
        return (
            room is not None
            and room.encrypted
            and bob.user_id in room.users
            and _has_device(alice, bob.user_id, bob.device_id)
        )

    await sync_until(alice, alice_ready, "bob's join and device keys")

    sent = await alice.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.text", "body": secret},
        ignore_unverified_devices=True,
    )
    assert isinstance(sent, RoomSendResponse), sent

    received: list[RoomMessageText] = []
    pending: list[MegolmEvent] = []

    def got_it() -> bool:
        for event in list(pending):
            try:
                decrypted = bob.decrypt_event(event)
            except EncryptionError:
                continue  # room key not received yet; sync again
            if isinstance(decrypted, RoomMessageText):
                pending.remove(event)
                received.append(decrypted)
        return any(e.event_id == sent.event_id for e in received)

    deadline = time.monotonic() + WAIT_SECONDS
    while not got_it():
        assert time.monotonic() < deadline, (
            f"bob never decrypted the message; undecrypted: {pending}"
        )
        response = await sync_once(bob)
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if event.event_id != sent.event_id:
                continue
            if isinstance(event, MegolmEvent):
                pending.append(event)
            else:
                assert isinstance(event, RoomMessageText), type(event)
                received.append(event)

    message = next(e for e in received if e.event_id == sent.event_id)
    assert isinstance(message, RoomMessageText)
    assert message.decrypted
    assert message.body == secret
    assert message.sender == alice.user_id

    # The homeserver itself only ever saw ciphertext.
    raw = await asyncio.to_thread(
        synapse_server.request,
        "GET",
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/event/{urllib.parse.quote(sent.event_id)}",
        None,
        alice.access_token,
    )
    assert raw["type"] == "m.room.encrypted"
    assert raw["content"]["algorithm"] == MEGOLM
    assert secret not in str(raw)


def _has_device(client: AsyncClient, user_id: str, device_id: str) -> bool:
    return any(d.device_id == device_id for d in client.device_store.active_user_devices(user_id))


# --------------------------------------------------------------------------- rate limits


def _create_room_and_send(server: SynapseServer, count: int) -> list[str]:
    localpart, password = _localpart("spammer"), uuid.uuid4().hex
    user = server.register_user(localpart, password)
    room_id = server.request(
        "POST", "/_matrix/client/v3/createRoom", {"preset": "private_chat"}, user.access_token
    )["room_id"]
    event_ids = []
    for i in range(count):
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/txn{i}"
        event_ids.append(
            server.request(
                "PUT", path, {"msgtype": "m.text", "body": f"msg {i}"}, user.access_token
            )["event_id"]
        )
    return event_ids


async def test_synapse_default_server_has_raised_limits(synapse_server: SynapseServer) -> None:
    event_ids = await asyncio.to_thread(_create_room_and_send, synapse_server, 30)
    assert len(set(event_ids)) == 30


async def test_synapse_rate_limited_server_returns_limit_exceeded(
    synapse_server_rate_limited: SynapseServer,
) -> None:
    with pytest.raises(SynapseHTTPError) as excinfo:
        await asyncio.to_thread(_create_room_and_send, synapse_server_rate_limited, 5)
    assert excinfo.value.status == 429
    assert excinfo.value.errcode == "M_LIMIT_EXCEEDED"

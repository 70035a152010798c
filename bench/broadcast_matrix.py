"""The Matrix part of bench/broadcast.py: encrypted rooms on a local Synapse.

Synapse runs with its default message rate limit (0.2/s, burst 10) for
everyone but the bot, which the admin API exempts (``override_ratelimit``),
as a network's homeserver admin would. A member (a real nio client with
end-to-end encryption) creates the rooms and invites the bot; the bot is
the real ``MatrixTransport`` and dispatcher. Figures: the time until the
homeserver accepted every room's message, and until the member had
decrypted them all.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from nio import RoomCreateResponse

from bot.broadcast.dispatcher import Dispatcher
from bot.broadcast.lane import LanePolicy
from bot.broadcast.limits import MatrixGate
from handlers.broadcast import queue_broadcast
from handlers.clock import SystemClock
from handlers.hub import MessengerHub
from handlers.messages import Platform
from handlers.services import Services
from handlers.settings import Settings
from storage import Database
from storage.repos.outbox import Delivery
from tests.matrix.peers import MEGOLM, BotKit, Recorder, localpart
from tests.servers.synapse import SynapseServer

TEXT = "URGENT ACTION: sign the letter for the radio presenters of Cauca."
SYNAPSE_DEFAULT_MESSAGE_RATE = {"per_second": 0.2, "burst_count": 10}


async def deliver_to_rooms(
    count: int, rate: float = 20.0, *, also_limited: bool = False
) -> dict[str, str]:
    """The broadcast with the bot exempt; with ``also_limited``, then a second appeal
    to the same rooms after the exemption is removed (Synapse's default ``rc_message``)."""
    server = SynapseServer(extra_config={"rc_message": SYNAPSE_DEFAULT_MESSAGE_RATE})
    await asyncio.to_thread(server.start)
    try:
        with tempfile.TemporaryDirectory() as folder:
            return await _run(server, Path(folder), count, rate, also_limited)
    finally:
        await asyncio.to_thread(server.stop)


async def _run(
    server: SynapseServer, folder: Path, count: int, rate: float, also_limited: bool
) -> dict[str, str]:
    admin = await asyncio.to_thread(server.register_user, localpart("admin"), "pw", True)
    password = uuid.uuid4().hex
    bot_user, _, _ = await asyncio.to_thread(server.register_user, localpart("sosbot"), password)
    kit = BotKit(server, bot_user, password, folder / "bot-store")
    member = await kit.person("member", folder)
    for exempt in (bot_user, member.user_id):  # the member only sets the rooms up
        await asyncio.to_thread(
            server.request,
            "POST",
            f"/_synapse/admin/v1/users/{exempt}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0},
            admin.access_token,
        )
    db = await Database.open(
        f"sqlite+aiosqlite:///{folder / 'sosbot.db'}",
        os.urandom(32),
        SystemClock().now,
        migrate=True,
    )
    dispatcher: Dispatcher | None = None
    try:
        bot = await kit.start(Recorder())
        print(f"  creating {count} encrypted rooms…", flush=True)
        rooms = await _rooms(member.client, bot.user_id, count)
        assert bot.client is not None
        await member.until(
            lambda: all(
                r in member.client.rooms
                and bot.user_id in member.client.rooms[r].users
                and not member.client.rooms[r].users[bot.user_id].invited
                for r in rooms
            ),
            "the bot in every room",
            seconds=600,
        )
        hub = MessengerHub()
        hub.register(Platform.MATRIX, bot.messenger)
        services = Services(db, SystemClock(), Settings(), hub)
        policy = LanePolicy(Platform.MATRIX, idempotent=True, poll_interval=0.05)
        dispatcher = Dispatcher(services, [(policy, MatrixGate(rate=rate))])
        await dispatcher.start()

        async def appeal(ref: str, text: str, label: str) -> dict[str, str]:
            deliveries = [Delivery(f"matrix:{r}", "en", text) for r in rooms]
            start = time.monotonic()
            await queue_broadcast(services, "appeal", ref, deliveries, report_to=[])
            while True:
                counts = await db.outbox.counts("appeal", ref)
                if not counts.get("pending") and not counts.get("sending"):
                    break
                await asyncio.sleep(0.1)
            accepted = time.monotonic() - start

            def decrypted() -> int:
                return sum(any(text in b for b in member.bodies(r, bot.user_id)) for r in rooms)

            await member.until(lambda: decrypted() == len(rooms), "every message", seconds=600)
            received = time.monotonic() - start
            print(f"  {label}: accepted in {accepted:.1f} s", flush=True)
            return {
                f"{label}: outcomes": ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                f"{label}: accepted by the homeserver": (
                    f"{accepted:.1f} s ({count / accepted:.2f}/s)"
                ),
                f"{label}: decrypted by the member": f"{received:.1f} s",
            }

        results = {"rooms": str(count)}
        results.update(await appeal("A-MATRIX", TEXT, "bot exempt"))
        if also_limited:
            # The homeserver's default for the bot too: the admin removes the override.
            await asyncio.to_thread(
                server.request,
                "DELETE",
                f"/_synapse/admin/v1/users/{bot_user}/override_ratelimit",
                None,
                admin.access_token,
            )
            second = TEXT.replace("URGENT ACTION", "SECOND URGENT ACTION")
            results.update(await appeal("A-MATRIX2", second, "default rc_message"))
        return results
    finally:
        if dispatcher is not None:
            await dispatcher.stop()
        await kit.close()
        await db.close()


async def _rooms(client: object, bot_user: str, count: int) -> list[str]:
    from nio import AsyncClient

    assert isinstance(client, AsyncClient)
    limit = asyncio.Semaphore(10)

    async def one(n: int) -> str:
        async with limit:
            created = await client.room_create(
                name=f"Member group {n}",
                invite=[bot_user],
                initial_state=[
                    {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
                ],
            )
        assert isinstance(created, RoomCreateResponse), created
        return str(created.room_id)

    return list(await asyncio.gather(*(one(n) for n in range(count))))

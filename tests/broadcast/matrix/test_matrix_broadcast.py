"""Broadcasts to encrypted Matrix rooms on a real Synapse: exactly once across a crash.

The bot is the real ``MatrixTransport``; the member is a real nio client with
end-to-end encryption. A crash is ``Dispatcher.kill`` while a send is in
flight; the next dispatcher resends it with the same transaction id, and the
homeserver delivers it once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.broadcast.dispatcher import Dispatcher
from bot.broadcast.lane import LanePolicy
from bot.broadcast.limits import MatrixGate
from bot.transports.matrix import MatrixTransport
from handlers.broadcast import queue_broadcast
from handlers.clock import SystemClock
from handlers.hub import MessengerHub
from handlers.messages import Platform
from handlers.services import Services
from handlers.settings import Settings
from storage import Database
from storage.repos.outbox import INACTIVE, SENT, Delivery
from tests.broadcast.conftest import hang_after_sending
from tests.matrix.peers import BotKit, Peer, Recorder

ROOMS = 4
POLICY = LanePolicy(Platform.MATRIX, idempotent=True, poll_interval=0.05, backoff=0.2)


@dataclass
class MatrixNet:
    kit: BotKit
    db: Database
    services: Services
    bot: MatrixTransport
    member: Peer
    rooms: list[str]
    dispatcher: Dispatcher | None = None

    async def start_dispatcher(self) -> Dispatcher:
        self.dispatcher = Dispatcher(self.services, [(POLICY, MatrixGate())], progress_interval=0.2)
        self.dispatcher.reporter.show_after = 3600
        await self.dispatcher.start()
        return self.dispatcher

    async def broadcast(self) -> None:
        deliveries = [Delivery(f"matrix:{r}", "en", "Urgent action ✊") for r in self.rooms]
        await queue_broadcast(self.services, "appeal", "A-MATRIX", deliveries, report_to=[])

    async def finished(self) -> dict[str, int]:
        for _ in range(600):
            counts = await self.db.outbox.counts("appeal", "A-MATRIX")
            if not counts.get("pending") and not counts.get("sending"):
                return counts
            await asyncio.sleep(0.05)
        raise AssertionError(f"the broadcast did not finish: {counts}")

    async def received(self) -> list[int]:
        """Per room, how many copies of the appeal the member decrypted."""

        def counts() -> list[int]:
            return [
                sum("Urgent action" in b for b in self.member.bodies(r, self.bot.user_id))
                for r in self.rooms
            ]

        await self.member.until(lambda: all(counts()), "the appeal in every room")
        for _ in range(3):  # a duplicate would arrive by now
            await self.member.sync()
        return counts()


@pytest.fixture
async def net(kit: BotKit, tmp_path: Path) -> AsyncIterator[MatrixNet]:
    db = await Database.open(
        f"sqlite+aiosqlite:///{tmp_path / 'sosbot.db'}",
        os.urandom(32),
        SystemClock().now,
        migrate=True,
    )
    hub = MessengerHub()
    services = Services(db, SystemClock(), Settings(), hub)
    bot = await kit.start(Recorder())
    hub.register(Platform.MATRIX, bot.messenger)
    member = await kit.person("member", tmp_path)
    rooms = [await member.open_dm(bot, direct=False) for _ in range(ROOMS)]
    org = await db.members.upsert_organisation("Colectivo de Abogados")
    for room in rooms:
        await db.members.add_group(f"matrix:{room}", org.id, "es")
    matrix_net = MatrixNet(kit, db, services, bot, member, rooms)
    try:
        yield matrix_net
    finally:
        if matrix_net.dispatcher is not None:
            await matrix_net.dispatcher.stop()
        await db.close()


async def test_a_crash_mid_send_is_resent_by_transaction_id_and_arrives_once(
    net: MatrixNet,
) -> None:
    crashed, restore = hang_after_sending(net.services.hub, 2)
    dispatcher = await net.start_dispatcher()
    await net.broadcast()
    await asyncio.wait_for(crashed.wait(), 30)
    await dispatcher.kill()
    restore()
    assert (await net.db.outbox.counts("appeal", "A-MATRIX")).get("sending", 0) >= 1

    await net.start_dispatcher()  # resends the in-flight one with the same transaction id
    assert net.dispatcher is not None and net.dispatcher.settled["pending"] >= 1
    assert await net.finished() == {SENT: ROOMS}
    assert await net.received() == [1] * ROOMS


async def test_a_room_the_bot_was_removed_from_ends_inactive(net: MatrixNet) -> None:
    gone = net.rooms[0]
    kicked = await net.member.client.room_kick(gone, net.bot.user_id, "not a member any more")
    assert not hasattr(kicked, "status_code"), kicked
    assert net.bot.client is not None
    for _ in range(200):  # the bot learns it at its next sync
        if gone not in net.bot.client.rooms:
            break
        await asyncio.sleep(0.05)
    await net.start_dispatcher()
    await net.broadcast()
    assert await net.finished() == {SENT: ROOMS - 1, INACTIVE: 1}
    group = await net.db.members.group(f"matrix:{gone}")
    assert group is not None and not group.active
    net.rooms.remove(gone)
    assert await net.received() == [1] * (ROOMS - 1)

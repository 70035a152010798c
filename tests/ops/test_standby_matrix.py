"""A Matrix standby (issue 18, item 7): two `sosbot run` processes on one
PostgreSQL and the real Synapse.

The bot's Matrix device is its E2EE store folder (the SQLCipher store, the
login, the handled-up-to sync token): a standby must run the same device from
the same folder, on storage both machines mount. One with a folder of its own
is refused at start in one line; one sharing the folder takes over a killed
active process and answers, as the same device, what a defender wrote while
no process was active.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from nio import RoomCreateResponse, RoomPreset

from tests.matrix.apps import write_config
from tests.matrix.peers import MEGOLM, Peer, new_peer, register
from tests.ops.deployment import BotProcess, bot_environment, sosbot, spawn
from tests.servers.synapse import SynapseServer

TAKEOVER_S = 15


class Machines:
    """Config folders on one PostgreSQL and one Synapse; processes started from them."""

    def __init__(self, root: Path, url: str, server: SynapseServer, bot: str, password: str):
        self.root, self.url, self.server = root, url, server
        self.bot, self.password = bot, password
        self.processes: list[BotProcess] = []

    def config(self, machine: str, store_dir: Path | str, advisor: str) -> Path:
        return write_config(
            self.root / machine,
            self.server.base_url,
            self.bot,
            triage="!triage-not-joined:localhost",
            advisor=advisor,
            store_dir=store_dir,
            before=f'[bot]\ndata_dir = "data"\n[storage]\nurl = "{self.url}"',
        )

    def environment(self) -> dict[str, str]:
        return bot_environment(SOSBOT_MATRIX_PASSWORD=self.password)

    async def start(self, path: Path, command: str = "run") -> BotProcess:
        folder = path.parent
        bot = await spawn(folder.name, folder, self.environment(), command, "--config", str(path))
        self.processes.append(bot)
        return bot

    async def stop_all(self) -> None:
        for bot in self.processes:
            if bot.process.returncode is None:
                await bot.kill()
            if bot.reader is not None:
                await bot.reader


async def open_dm(peer: Peer, bot: str) -> str:
    """An encrypted direct room with the bot, once its device is known to the peer."""
    created = await peer.client.room_create(
        is_direct=True,
        preset=RoomPreset.trusted_private_chat,
        invite=[bot],
        initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    )
    assert isinstance(created, RoomCreateResponse), created
    room_id = str(created.room_id)

    def ready() -> bool:
        room = peer.client.rooms.get(room_id)
        joined = room is not None and bot in room.users and not room.users[bot].invited
        return joined and bool(peer.client.device_store.active_user_devices(bot))

    await peer.until(ready, "the bot to join with its device", seconds=60)
    return room_id


async def answered(peer: Peer, room_id: str, bot: str, text: str) -> None:
    await peer.until(
        lambda: any(text in body for body in peer.bodies(room_id, bot)), repr(text), seconds=60
    )


async def test_a_matrix_standby_needs_the_shared_store_and_then_takes_over(
    postgres_url: str, synapse_server: SynapseServer, tmp_path: Path
) -> None:
    server = synapse_server
    account = await register(server, "sosbot")
    bot, password = account.user_id, account.password
    advisor = await new_peer(server, tmp_path, "advisor")
    defender = await new_peer(server, tmp_path, "defender")
    machines = Machines(tmp_path, postgres_url, server, bot, password)
    shared = tmp_path / "shared-storage" / "matrix"  # what both machines mount
    first = machines.config("a", shared, advisor.user_id)
    own = machines.config("b", "data/matrix", advisor.user_id)  # a folder of its own
    second = machines.config("c", shared, advisor.user_id)
    try:
        code, out, err = await asyncio.wait_for(_init(machines, first), 120)
        assert code == 0, out + err
        active = await machines.start(first)
        await active.wait_for_line("active: this process holds the database lock", 60)
        await active.wait_for_line("matrix transport started", 60)
        assert active.has_line("Matrix login done: a new device")
        device = json.loads((shared / "credentials.json").read_text())["device_id"]

        # A standby with a store folder of its own would log in as a second
        # device at takeover: refused at start, in one line, exit 1.
        refused = await machines.start(own)
        assert await refused.exited() == 1
        assert refused.lines[-1] == (
            f"run: matrix.store_dir ({own.parent / 'data' / 'matrix'}) does not hold the bot's Matrix device "
            f"{device}, which the active process runs: a standby must use the "
            "active process's store folder, on storage both machines mount "
            "(docs/deployment.md, section 9)"
        )
        assert not (own.parent / "data" / "matrix").exists()

        standby = await machines.start(second)
        await standby.wait_for_line("standby: another process is active", 60)

        dm = await open_dm(defender, bot)
        await defender.say(dm, "!report")
        await answered(defender, dm, bot, "What is happening?")

        await active.kill()
        # Written while no process is active, encrypted for the one device.
        await defender.say(dm, "Armed men came to our office")
        await standby.wait_for_line("active: took over the database lock", TAKEOVER_S)
        await standby.wait_for_line("matrix transport started", 60)
        assert standby.has_line("Matrix login restored")
        assert not standby.has_line("a new device")
        await answered(defender, dm, bot, "Noted")
        questions = [b for b in defender.bodies(dm, bot) if "What is happening?" in b]
        assert len(questions) == 1, "the first answer was not sent again"
        assert await standby.terminate() == 0
    finally:
        await machines.stop_all()
        await advisor.client.close()
        await defender.client.close()


async def _init(machines: Machines, path: Path) -> tuple[int, str, str]:
    return await sosbot(path.parent, machines.environment(), "init", "--config", str(path))

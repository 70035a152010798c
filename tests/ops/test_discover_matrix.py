"""`sosbot discover` on Matrix, as a process against the real Synapse (issue
18, item 2): a temporary device joins invites and prints the room's id,
answers `!id` in unencrypted and encrypted rooms, says how to find ids in
Element when it cannot decrypt, and leaves no device or file behind."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

from nio import RoomCreateResponse

from bot.transports.matrix_http import api_request
from tests.matrix.apps import write_config
from tests.matrix.peers import MEGOLM, Account, Peer, new_peer, register
from tests.ops.deployment import BotProcess, bot_environment, spawn
from tests.servers.net import free_port
from tests.servers.synapse import SynapseServer


def config(folder: Path, server: SynapseServer, bot: str) -> Path:
    return write_config(
        folder,
        server.base_url,
        bot,
        triage="!triage:localhost",
        advisor="@advisor:localhost",
        before='[bot]\ndata_dir = "data"',
    )


async def operators_machine(server: SynapseServer, tmp: Path) -> tuple[Account, Path, Path]:
    """What the operator has before `sosbot discover`: the bot's account, its config
    (``machine/config.toml``), and the empty TMPDIR its temporary store goes to."""
    account = await register(server, "sosbot")
    path = config(tmp / "machine", server, account.user_id)
    temp = tmp / "tmp"
    temp.mkdir()
    return account, path, temp


async def start_discover(path: Path, password: str, tmp: Path) -> BotProcess:
    env = bot_environment(
        SOSBOT_MATRIX_PASSWORD=password,
        TMPDIR=str(tmp),  # to see that the temporary store is gone afterwards
    )
    return await spawn("discover", path.parent, env, "discover", "--config", str(path))


async def new_room(peer: Peer, bot: str, *, encrypted: bool) -> str:
    state = (
        [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}]
        if encrypted
        else []
    )
    created = await peer.client.room_create(invite=[bot], initial_state=state)
    assert isinstance(created, RoomCreateResponse), created
    return str(created.room_id)


async def joined(peer: Peer, room_id: str, bot: str) -> None:
    def ready() -> bool:
        room = peer.client.rooms.get(room_id)
        return room is not None and bot in room.users and not room.users[bot].invited

    await peer.until(ready, "the bot to join")


def devices(server: SynapseServer, token: str) -> set[str]:
    found = server.request("GET", "/_matrix/client/v3/devices", token=token)["devices"]
    return {str(d["device_id"]) for d in found}


async def test_discover_on_matrix_joins_answers_and_leaves_nothing(
    synapse_server: SynapseServer, tmp_path: Path
) -> None:
    server = synapse_server
    account, path, temp = await operators_machine(server, tmp_path)
    bot = account.user_id
    advisor = await new_peer(server, tmp_path, "advisor")
    discover = await start_discover(path, account.password, temp)
    try:
        await discover.wait_for_line("discover: on Matrix, invite", 60)
        assert devices(server, account.token) - {account.device_id}, (
            "a temporary device is logged in"
        )

        # An unencrypted room: the invite alone prints its id; !id answers.
        plain = await new_room(advisor, bot, encrypted=False)
        line = await discover.wait_for_line(f"Joined room: matrix:{plain}", 30)
        assert line == f"Joined room: matrix:{plain} (invited by matrix:{advisor.user_id})"
        await joined(advisor, plain, bot)
        await advisor.say(plain, "!id")
        expected = f"This room: matrix:{plain} (unencrypted)\nYou: matrix:{advisor.user_id}"
        await advisor.until(lambda: expected in advisor.bodies(plain, bot), "the answer")
        line = await discover.wait_for_line(f"This room: matrix:{plain}", 30)
        assert line == expected.replace("\n", "; ")

        # An encrypted room: the key of a message encrypted after the device
        # appeared is shared with it, so it reads !id and answers encrypted.
        secret = await new_room(advisor, bot, encrypted=True)
        await discover.wait_for_line(f"Joined room: matrix:{secret}", 30)
        await joined(advisor, secret, bot)
        await advisor.say(secret, "/id")
        expected = f"This room: matrix:{secret} (encrypted)\nYou: matrix:{advisor.user_id}"
        await advisor.until(lambda: expected in advisor.bodies(secret, bot), "the answer")
        await discover.wait_for_line(f"This room: matrix:{secret} (encrypted); You:", 30)

        # A message whose room key the device never received (an app that
        # does not share keys with new devices): the ids are still printed,
        # with Element's way, and the room is told once.
        txn = uuid.uuid4().hex
        await api_request(
            advisor.client,
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(secret)}/send/m.room.encrypted/{txn}",
            {
                "algorithm": MEGOLM,
                "ciphertext": "AwgAEnB4",
                "sender_key": "x" * 43,
                "session_id": "y" * 43,
                "device_id": str(advisor.client.device_id),
            },
        )
        line = await discover.wait_for_line("cannot decrypt", 30)
        assert line.startswith(
            f"This room: matrix:{secret} (encrypted); from matrix:{advisor.user_id}"
        )
        assert "Settings → Advanced → Internal room ID" in line
        await advisor.until(
            lambda: any("could not decrypt" in b for b in advisor.bodies(secret, bot)),
            "the room to be told",
        )

        assert await discover.terminate() == 0
        assert not [line for line in discover.lines if "Traceback" in line or "WARNING" in line]
    finally:
        if discover.process.returncode is None:
            await discover.kill()
        await advisor.client.close()
    # The temporary device is gone from the homeserver, its store from the disk,
    # and nothing was written in the data folder.
    assert devices(server, account.token) == {account.device_id}
    assert list(temp.iterdir()) == []
    data = path.parent / "data"
    assert not (data / "matrix").exists()
    assert not list(data.glob("sosbot.db*"))


async def test_a_refused_login_or_an_unreachable_homeserver_is_one_line(
    synapse_server: SynapseServer, tmp_path: Path
) -> None:
    server = synapse_server
    account, path, temp = await operators_machine(server, tmp_path)
    wrong = await start_discover(path, "not-the-password", temp)
    assert await wrong.exited() == 1
    assert wrong.lines[-1] == (
        f"discover: Matrix at {server.base_url} refused the login (M_FORBIDDEN; check "
        "matrix.user_id and matrix.password_env/password_file)"
    )
    assert "Traceback" not in "\n".join(wrong.lines)

    port = free_port()
    text = path.read_text().replace(server.base_url, f"http://127.0.0.1:{port}")
    path.write_text(text)
    unreachable = await start_discover(path, account.password, temp)
    assert await unreachable.exited() == 1
    assert unreachable.lines[-1].startswith(
        f"discover: cannot reach the Matrix homeserver http://127.0.0.1:{port} ("
    )
    assert "Traceback" not in "\n".join(unreachable.lines)
    assert list(temp.iterdir()) == [], "the temporary store is removed"

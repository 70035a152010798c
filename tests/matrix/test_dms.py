"""The person ↔ direct room mapping: sealed records under keyed-hash names."""

from __future__ import annotations

import json

from bot.transports.matrix_dms import LOOKUP_KEY, DirectRooms
from tests.matrix.peers import BotKit, MemorySecrets, Recorder

ANA, ROOM, OTHER = "@ana:example.org", "!Qx9-_Qx9-_Qx9-_Qx9-_Qx9-_Qx9-_Qx9-_Qx9-_abc", "!b:x"


async def test_names_are_keyed_hashes_and_both_directions_resolve() -> None:
    secrets = MemorySecrets()
    dms = DirectRooms(secrets)
    assert await dms.room_of(ANA) is None
    await dms.remember(ANA, ROOM)
    names = set(secrets.values) - {LOOKUP_KEY}
    assert len(names) == 2 and all(len(n) <= 64 for n in names)
    assert not any("ana" in n or ROOM in n for n in names)
    assert len(secrets.values[LOOKUP_KEY]) == 32

    again = DirectRooms(secrets)  # a restart: nothing cached, same answers
    assert await again.room_of(ANA) == ROOM and await again.user_of(ROOM) == ANA
    other = DirectRooms(MemorySecrets())  # another lookup key: other names
    await other.remember(ANA, ROOM)
    assert set(other.secrets.values).isdisjoint(names)  # type: ignore[attr-defined]


async def test_a_new_room_replaces_the_old_and_forgetting_drops_both() -> None:
    secrets = MemorySecrets()
    dms = DirectRooms(secrets)
    await dms.remember(ANA, ROOM)
    await dms.remember(ANA, OTHER)
    assert await dms.room_of(ANA) == OTHER and await dms.user_of(ROOM) is None
    assert await dms.forget_user(ANA) == OTHER
    assert set(secrets.values) == {LOOKUP_KEY}
    assert await DirectRooms(secrets).room_of(ANA) is None

    await dms.remember(ANA, ROOM)
    assert await dms.forget_room(ROOM) == ANA  # the bot was removed from the room
    assert set(secrets.values) == {LOOKUP_KEY}


async def test_an_earlier_state_files_mapping_is_adopted() -> None:
    secrets = MemorySecrets()
    dms = DirectRooms(secrets)
    await dms.adopt({ANA: ROOM, "@bo:x": OTHER})
    fresh = DirectRooms(secrets)
    assert await fresh.room_of(ANA) == ROOM and await fresh.user_of(OTHER) == "@bo:x"


async def test_the_transport_moves_a_clear_text_mapping_out_of_state_json(kit: BotKit) -> None:
    kit.store_dir.mkdir(mode=0o700)
    state = kit.store_dir / "state.json"
    state.write_text(
        json.dumps({"next_batch": None, "handled": [], "direct": [], "dms": {ANA: ROOM}})
    )
    bot = await kit.start(Recorder())
    assert await bot.messenger.dms.room_of(ANA) == ROOM
    assert ANA not in state.read_text() and "dms" not in json.loads(state.read_text())

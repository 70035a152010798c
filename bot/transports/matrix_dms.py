"""Which direct room the bot uses for which person, kept in the encrypted database.

A defender's Matrix user id must not lie in clear on disk. The mapping
user id ↔ direct room lives in ``bot_secrets`` (sealed under a data key
wrapped by the master key, so rotated with it), one record per direction,
each named by a keyed hash: ``HMAC-SHA256(lookup key, id)``. The lookup key
is random and itself a sealed secret, so the names reveal nothing without
the database's master key. The process keeps what it looked up in memory.

``state.json`` of earlier versions kept the mapping in clear under "dms";
``adopt`` moves such entries here, after which the file is rewritten without them.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from bot.transports.matrix_crosssign import SecretStore

LOOKUP_KEY = "matrix.dm_lookup_key"
_USER = "matrix.dm.u."
_ROOM = "matrix.dm.r."


class DirectRooms:
    def __init__(self, secrets: SecretStore) -> None:
        self.secrets = secrets
        self._key: bytes | None = None
        self._rooms: dict[str, str | None] = {}  # user id -> room (None: known to be absent)
        self._users: dict[str, str | None] = {}  # room id -> user

    async def _name(self, prefix: str, ident: str) -> str:
        if self._key is None:
            key = await self.secrets.get(LOOKUP_KEY)
            if key is None:
                key = os.urandom(32)
                await self.secrets.put(LOOKUP_KEY, key)
            self._key = key
        digest = hmac.new(self._key, ident.encode(), hashlib.sha256).hexdigest()
        return prefix + digest[:48]  # 192 bits; names are at most 64 characters

    async def room_of(self, user_id: str) -> str | None:
        if user_id not in self._rooms:
            value = await self.secrets.get(await self._name(_USER, user_id))
            self._rooms[user_id] = value.decode() if value is not None else None
        return self._rooms[user_id]

    async def user_of(self, room_id: str) -> str | None:
        if room_id not in self._users:
            value = await self.secrets.get(await self._name(_ROOM, room_id))
            self._users[room_id] = value.decode() if value is not None else None
        return self._users[room_id]

    async def remember(self, user_id: str, room_id: str) -> None:
        """``room_id`` is where the bot reaches ``user_id`` from now on."""
        if await self.room_of(user_id) == room_id:
            return  # the common case: nothing to write
        old = self._rooms.get(user_id)
        if old is not None:
            await self._drop_room_record(old)
        await self.secrets.put(await self._name(_USER, user_id), room_id.encode())
        await self.secrets.put(await self._name(_ROOM, room_id), user_id.encode())
        self._rooms[user_id] = room_id
        self._users[room_id] = user_id

    async def forget_user(self, user_id: str) -> str | None:
        """Drop the person's record; the room it named, if any."""
        room_id = await self.room_of(user_id)
        await self.secrets.delete(await self._name(_USER, user_id))
        self._rooms[user_id] = None
        if room_id is not None:
            await self._drop_room_record(room_id)
        return room_id

    async def forget_room(self, room_id: str) -> str | None:
        """Drop the records of a room the bot is no longer in; the person it served."""
        user_id = await self.user_of(room_id)
        if user_id is not None and await self.room_of(user_id) == room_id:
            await self.secrets.delete(await self._name(_USER, user_id))
            self._rooms[user_id] = None
        await self._drop_room_record(room_id)
        return user_id

    async def _drop_room_record(self, room_id: str) -> None:
        await self.secrets.delete(await self._name(_ROOM, room_id))
        self._users[room_id] = None

    async def adopt(self, legacy: dict[str, str]) -> None:
        """Take over the clear-text mapping of an earlier ``state.json``."""
        for user_id, room_id in legacy.items():
            await self.remember(user_id, room_id)

"""matrix-nio's E2EE store, encrypted as a whole with SQLCipher.

nio's ``SqliteStore`` keeps in plain SQLite the user ids and device names of
everyone whose keys it fetched, the rooms it encrypts for, and the trust
state of each device. nio pickles the Olm and Megolm secrets with its
pickle key, but the rest is in clear. ``CipherStore`` is the same store on
SQLCipher (the ``sqlcipher3`` wheels, which bundle SQLCipher 4, through
peewee's ``SqlCipherDatabase``): every page of the file, its journal
included, is AES-256 encrypted, so nothing of it is readable on disk.

The SQLCipher passphrase is derived (HKDF-SHA256) from the pickle key, which
is random and sealed in the database under the master key
(``bot_secrets``): it is rotated with the master key like every other data
key, and a stolen store folder without the database opens nothing.

A store written by an earlier version (plain SQLite) is converted in place
on start with ``sqlcipher_export`` and the plain file is overwritten.
We chose SQLCipher over encrypting fields by hand: nio's schema is nio's,
and whole-file encryption needs no knowledge of which columns name people.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlcipher3
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nio import AsyncClient
from nio.store import SqliteStore
from nio.store.models import (
    DeviceKeys,
    DeviceTrustState,
    EncryptedRooms,
    ForwardedChains,
    Keys,
    MegolmInboundSessions,
)
from playhouse.sqlcipher_ext import SqlCipherDatabase

PLAIN_HEADER = b"SQLite format 3\x00"
_INFO = b"sosbot matrix store sqlcipher"


def store_passphrase(pickle_key: str) -> str:
    """The SQLCipher passphrase of the store: HKDF of the (sealed) pickle key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        pickle_key.encode()
    )
    return base64.b64encode(derived).decode("ascii")


def _raw_key(passphrase: str) -> str:
    # A raw 256-bit key skips SQLCipher's 256,000 rounds of PBKDF2: ours is already random.
    return "x'" + base64.b64decode(passphrase).hex() + "'"


class CipherStore(SqliteStore):  # type: ignore[misc]
    """nio's SqliteStore on an SQLCipher database."""

    def _create_database(self) -> SqlCipherDatabase:
        passphrase = store_passphrase(self.pickle_key)
        encrypt_plain_store(Path(self.database_path), passphrase)
        return SqlCipherDatabase(
            self.database_path,
            passphrase=_raw_key(passphrase),  # SQLCipher reads x'…' as the key itself
            pragmas={"foreign_keys": 1, "secure_delete": 1},
        )


def connect(path: Path, passphrase: str, *, read_only: bool = False) -> Any:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    conn = sqlcipher3.connect(uri, uri=True)
    conn.execute(f'PRAGMA key = "{_raw_key(passphrase)}"')
    return conn


def encrypt_plain_store(path: Path, passphrase: str) -> None:
    """Convert a plain SQLite store (an earlier version's) to SQLCipher in place."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(PLAIN_HEADER)) != PLAIN_HEADER:
                return
    except FileNotFoundError:
        return
    target = path.with_name(path.name + ".cipher")
    target.unlink(missing_ok=True)
    conn = sqlcipher3.connect(os.fspath(path))
    try:
        conn.execute(f'ATTACH DATABASE ? AS cipher KEY "{_raw_key(passphrase)}"', (str(target),))
        conn.execute("SELECT sqlcipher_export('cipher')")
        conn.execute("DETACH DATABASE cipher")
    finally:
        conn.close()
    os.chmod(target, 0o600)
    size = path.stat().st_size
    with path.open("r+b") as handle:  # overwrite before unlinking: no plain copy left
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(target, path)


def forget_person(client: AsyncClient, user_id: str, room_ids: Iterable[str]) -> None:
    """After /forget: drop what nio keeps of a person and of their direct rooms.

    The direct rooms' inbound room keys go (the bot can no longer read what
    the person wrote there), and so do the rooms' encryption records. The
    person's device keys and trust records go too unless they share another
    room with the bot, where nio still needs them to encrypt.
    """
    olm, store = client.olm, client.store
    if olm is None or store is None:
        return
    rooms = set(room_ids)
    elsewhere = any(
        user_id in room.users for room_id, room in client.rooms.items() if room_id not in rooms
    )
    db = store.database
    with db.bind_ctx(store.models), db.atomic():
        for room_id in rooms:
            sessions = MegolmInboundSessions.select(MegolmInboundSessions.session_id).where(
                MegolmInboundSessions.room_id == room_id
            )
            ForwardedChains.delete().where(ForwardedChains.session.in_(sessions)).execute()
            MegolmInboundSessions.delete().where(MegolmInboundSessions.room_id == room_id).execute()
            EncryptedRooms.delete().where(EncryptedRooms.room_id == room_id).execute()
        if not elsewhere:
            devices = DeviceKeys.select(DeviceKeys.id).where(DeviceKeys.user_id == user_id)
            Keys.delete().where(Keys.device.in_(devices)).execute()
            DeviceTrustState.delete().where(DeviceTrustState.device.in_(devices)).execute()
            DeviceKeys.delete().where(DeviceKeys.user_id == user_id).execute()
    for room_id in rooms:
        olm.inbound_group_store._entries.pop(room_id, None)  # nio has no public remover
        olm.outbound_group_sessions.pop(room_id, None)
        client.encrypted_rooms.discard(room_id)
    if not elsewhere:
        olm.device_store._entries.pop(user_id, None)
        olm.tracked_users.discard(user_id)
        olm.users_for_key_query.discard(user_id)

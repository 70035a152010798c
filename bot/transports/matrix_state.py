"""What the Matrix transport keeps on disk under ``matrix.store_dir``.

* ``credentials.json`` — user id, device id and access token (mode 0600).
  The bot logs in with its password once; afterwards it restores this login
  so the device, and the keys people encrypted for it, stay the same.
* the nio E2EE store, ``<user_id>_<device_id>.db`` (SQLite): the Olm account
  (the device's identity keys) and every room key received. Losing it while
  keeping the device means nothing sent to the device can be decrypted
  again, so a missing store is refused with one explanatory line.
* ``state.json`` — the sync token up to which every event was handled (not
  merely received), the ids of events handled since, and the rooms that are
  direct chats. No user id: which person a direct room serves is kept in
  the encrypted database (matrix_dms.py). On start the bot syncs from that token, so what arrived
  while it was down is answered, and nothing handled is handled twice.

Everything is written atomically with mode 0600 in a 0700 folder: these
files hold a token and room ids, and the store holds keys.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from bot.transports.base import TransportStartError
from bot.transports.matrix_crosssign import SecretStore
from bot.transports.matrix_store import connect, encrypt_plain_store, store_passphrase

CREDENTIALS = "credentials.json"
STATE = "state.json"
HANDLED_KEPT = 500  # far more than one restart's catch-up


class MatrixStartError(TransportStartError):
    """The Matrix transport cannot start; the message is one line for the operator."""


class MatrixStoreLost(MatrixStartError):
    """The device is known but its E2EE store (or the store's key) is gone."""


def prepare_dir(store_dir: Path) -> None:
    store_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(store_dir, 0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write atomically (temporary file, fsync, rename), readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Credentials:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str = field(repr=False)


def load_credentials(store_dir: Path) -> Credentials | None:
    path = store_dir / CREDENTIALS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MatrixStoreLost(
            f"cannot read {path} ({type(exc).__name__}); restore it from backup, "
            f"or delete it to log in as a new device"
        ) from None
    return Credentials(
        str(data["homeserver"]),
        str(data["user_id"]),
        str(data["device_id"]),
        str(data["access_token"]),
    )


def save_credentials(store_dir: Path, credentials: Credentials) -> None:
    body = {
        "homeserver": credentials.homeserver,
        "user_id": credentials.user_id,
        "device_id": credentials.device_id,
        "access_token": credentials.access_token,
    }
    write_private(store_dir / CREDENTIALS, json.dumps(body, indent=1).encode())


def crypto_store_path(store_dir: Path, user_id: str, device_id: str) -> Path:
    """Where nio's SqliteStore keeps the device's keys (its own naming)."""
    return store_dir / f"{user_id}_{device_id}.db"


def lost_store_message(store_dir: Path, device_id: str) -> str:
    return (
        f"the Matrix store at {store_dir} is missing for device {device_id}: messages sent "
        f"to the old device cannot be decrypted; restore the store from backup, or delete "
        f"{store_dir / CREDENTIALS} to log in as a new device"
    )


def check_crypto_store(store_dir: Path, credentials: Credentials, pickle_key: str) -> None:
    """Raise ``MatrixStoreLost`` unless the device's Olm account is in its store.

    The store is SQLCipher (matrix_store.py); a plain one of an earlier
    version is converted first.
    """
    path = crypto_store_path(store_dir, credentials.user_id, credentials.device_id)
    if not path.is_file():
        raise MatrixStoreLost(lost_store_message(store_dir, credentials.device_id))
    passphrase = store_passphrase(pickle_key)
    row = None
    try:
        encrypt_plain_store(path, passphrase)
        conn = connect(path, passphrase, read_only=True)
        try:
            row = conn.execute(
                "SELECT count(*) FROM accounts WHERE user_id = ? AND device_id = ?",
                (credentials.user_id, credentials.device_id),
            ).fetchone()
        finally:
            conn.close()
    except sqlcipher3.Error:
        row = None
    if not row or not row[0]:
        raise MatrixStoreLost(lost_store_message(store_dir, credentials.device_id))


class SyncState:
    """The handled-up-to sync token, recently handled events and direct rooms."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next_batch: str | None = None
        self.handled: OrderedDict[str, None] = OrderedDict()
        self.direct: set[str] = set()  # rooms their inviter marked as direct chats
        # user id -> direct room, as earlier versions kept it here in clear; the
        # transport moves it into the database on start and it is never written again.
        self.legacy_dms: dict[str, str] = {}

    def reload(self) -> None:
        """Read the file in place (the messenger shares this object)."""
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError):
            data = {}  # a damaged state file costs the catch-up, never a start
        token = data.get("next_batch")
        self.next_batch = token if isinstance(token, str) and token else None
        self.handled = OrderedDict((str(e), None) for e in data.get("handled", []))
        self.direct = {str(r) for r in data.get("direct", [])}
        self.legacy_dms = {str(k): str(v) for k, v in dict(data.get("dms", {})).items()}

    def save(self) -> None:
        body = {
            "next_batch": self.next_batch,
            "handled": list(self.handled),
            "direct": sorted(self.direct),
        }
        write_private(self.path, json.dumps(body).encode())

    def was_handled(self, event_id: str) -> bool:
        return event_id in self.handled

    def mark_handled(self, event_id: str) -> None:
        self.handled[event_id] = None
        while len(self.handled) > HANDLED_KEPT:
            self.handled.popitem(last=False)


# The bot's device, as the database knows it. A second machine (a standby)
# must run the same device from the same store folder: a store of its own
# would log in as a new device, which cannot read what was sent to the first
# and would skip what arrived while it took over (a new login syncs from now).
DEVICE_SECRET = "matrix.device_id"


async def check_device(secrets: SecretStore, store_dir: Path, credentials: Credentials) -> None:
    """Refuse a store folder that holds another device than the database's bot uses.

    A deployment from before this record adopts its folder's device."""
    held = await secrets.get(DEVICE_SECRET)
    if held is None:
        await secrets.put(DEVICE_SECRET, credentials.device_id.encode("ascii"))
        return
    if held.decode("ascii") != credentials.device_id:
        raise MatrixStartError(
            f"{store_dir} holds Matrix device {credentials.device_id}, but this database's "
            f"bot uses device {held.decode('ascii')}: point matrix.store_dir at that "
            "device's folder, or restore the store and the database from the same backup"
        )


async def record_device(secrets: SecretStore, device_id: str) -> None:
    await secrets.put(DEVICE_SECRET, device_id.encode("ascii"))


async def standby_store_problem(secrets: SecretStore, store_dir: Path) -> str | None:
    """Why this folder cannot serve a standby, or None.

    A standby takes over the active process's device, so its
    ``matrix.store_dir`` must be that device's folder (shared storage). Before
    any device exists (a new deployment whose first process has not logged in
    yet) there is nothing to compare: checked again at takeover."""
    held = await secrets.get(DEVICE_SECRET)
    if held is None:
        return None
    device = held.decode("ascii")
    try:
        credentials = load_credentials(store_dir)
    except MatrixStoreLost:
        credentials = None
    if credentials is not None and credentials.device_id == device:
        if crypto_store_path(store_dir, credentials.user_id, device).is_file():
            return None
    return (
        f"matrix.store_dir ({store_dir}) does not hold the bot's Matrix device {device}, "
        "which the active process runs: a standby must use the active process's store "
        "folder, on storage both machines mount (docs/deployment.md, section 9)"
    )

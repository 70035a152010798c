"""Which devices get the bot's room keys: those their owner cross-signed.

This is the sending side of MSC4153 ("exclude insecure devices"), the rule
Element enforces since 2026. A Megolm room key is shared with a member's
device only when, in the answer of ``/keys/query``,

    device keys  ←signed by←  self-signing key  ←signed by←  master key

holds for that user: the self-signing key carries a valid signature of the
user's master key, and the device's keys (the very ed25519 key matrix-nio
holds for it) carry a valid signature of that self-signing key. Any other
device — a new login its owner has not verified, or a device a compromised
homeserver slipped into the list — is blacklisted in nio's store, so nio
never encrypts a room key to it. Nothing is "ignored": the send runs with
``ignore_unverified_devices=False``, so a device that appeared after the
check makes nio refuse instead of leaking (the caller re-checks and retries).

Verdicts are cached per user and dropped whenever nio learns that the
user's device list changed (every ``keys_query`` it runs follows a
``device_lists.changed`` of the sync). A device that loses its verdict
after it was given a room key forces a new outbound Megolm session in
every room its owner shares with the bot, so it cannot read what follows;
so does a device that becomes cross-signed (nio shares a session only once,
so a new session is how it gets the key of what follows).

What this does not do (yet): pin a user's master key. A homeserver that
replaces a user's whole cross-signing identity can still add a device
that verifies; Element warns about such identity changes, the bot does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from uuid import uuid4

from nio import AsyncClient, MatrixRoom

from bot.transports.matrix_crosssign import KEYS_QUERY, only_key, verify_json
from bot.transports.matrix_http import api_request
from handlers.i18n import N_, render, t

log = logging.getLogger(__name__)


def _signed_by(obj: dict[str, Any], user_id: str, public: str, key_id: str | None = None) -> bool:
    """``obj`` carries a valid signature of ``user_id``'s key ``ed25519:<key_id>``
    (a cross-signing key's id is its public key; a device's is its device id)."""
    signature = obj.get("signatures", {}).get(user_id, {}).get(f"ed25519:{key_id or public}")
    return isinstance(signature, str) and verify_json(public, obj, signature)


def _usage(obj: dict[str, Any] | None, user_id: str, usage: str) -> bool:
    return bool(obj) and obj.get("user_id") == user_id and usage in obj.get("usage", [])  # type: ignore[union-attr]


def cross_signed_devices(user_id: str, answer: dict[str, Any]) -> dict[str, str]:
    """Device id → ed25519 key of every device of ``user_id`` whose chain
    device ← self-signing key ← master key verifies in a ``/keys/query`` answer."""
    master = answer.get("master_keys", {}).get(user_id)
    ssk = answer.get("self_signing_keys", {}).get(user_id)
    master_public = only_key(master)
    ssk_public = only_key(ssk)
    if master_public is None or ssk_public is None:
        return {}
    if not _usage(master, user_id, "master") or not _usage(ssk, user_id, "self_signing"):
        return {}
    if not _signed_by(ssk, user_id, master_public):
        return {}
    verified: dict[str, str] = {}
    for device_id, device in dict(answer.get("device_keys", {}).get(user_id, {})).items():
        if device.get("user_id") != user_id or device.get("device_id") != device_id:
            continue
        ed25519 = device.get("keys", {}).get(f"ed25519:{device_id}")
        if not isinstance(ed25519, str):
            continue
        # The device's own signature (nio checks it too) and the self-signing key's.
        if _signed_by(device, user_id, ed25519, device_id) and _signed_by(
            device, user_id, ssk_public
        ):
            verified[str(device_id)] = ed25519
    return verified


@dataclass(frozen=True)
class Untrusted:
    """A member's device that gets no room keys (for the one notice)."""

    user_id: str
    device_id: str


LanguageOf = Callable[[str], Awaitable[str | None]]  # user id -> their language, if known

ROOM_NOTICE = N_(
    "{person} has a session that is not verified, so it receives no messages here. "
    "Verify it from a session you have already verified (in Element: Settings, Sessions), "
    "or sign it out."
)
DIRECT_NOTICE = N_(
    "One of your sessions is not verified, so it receives no messages from me. "
    "Verify it from a session you have already verified (in Element: Settings, Sessions), "
    "or sign it out."
)


@dataclass
class DeviceTrust:
    """Cross-signing verdicts per user, applied to nio's device trust store."""

    verdicts: dict[str, dict[str, str]] = field(default_factory=dict)
    noticed: set[Untrusted] = field(default_factory=set)  # told once per process
    _querying: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def forget(self, users: Iterable[str]) -> None:
        """Drop the verdicts of users whose device lists changed."""
        for user in users:
            self.verdicts.pop(user, None)

    async def _query(self, client: AsyncClient, users: list[str]) -> None:
        body = {"device_keys": {u: [] for u in users}, "timeout": 10000}
        answer = await api_request(client, "POST", KEYS_QUERY, body)
        for user in users:
            self.verdicts[user] = cross_signed_devices(user, answer)

    async def apply(
        self, client: AsyncClient, room_id: str, users: Iterable[str]
    ) -> list[Untrusted]:
        """Mark every device of ``users`` verified or blacklisted in nio's store.

        Returns the devices newly found untrusted that were not noticed yet,
        for the room's one notice.
        """
        olm = client.olm
        assert olm is not None
        members = [u for u in users if u != client.user_id]
        async with self._querying:  # sends in flight share one query per user
            missing = [u for u in members if u not in self.verdicts]
            if missing:
                await self._query(client, missing)
        fresh: list[Untrusted] = []
        changed: set[str] = set()  # users with a device that gained or lost trust
        for user in members:
            verdict = self.verdicts.get(user, {})
            for device in olm.device_store.active_user_devices(user):
                if verdict.get(device.id) == device.ed25519:
                    if not olm.is_device_verified(device):
                        olm.verify_device(device)
                        # nio shares a session once and never with devices added later.
                        changed.add(user)
                    continue
                if olm.is_device_verified(device):
                    changed.add(user)  # it may hold the current room key: rotate below
                if not olm.is_device_blacklisted(device):
                    olm.blacklist_device(device)
                untrusted = Untrusted(user, device.id)
                if untrusted not in self.noticed:
                    self.noticed.add(untrusted)
                    fresh.append(untrusted)
        if changed:
            self._rotate(client, changed)
        return fresh

    async def prepare(
        self,
        client: AsyncClient,
        room_id: str,
        room: MatrixRoom,
        language_of: LanguageOf,
        *,
        direct: bool,
    ) -> None:
        """Before a send in an encrypted room: trust applied, notices sent.

        ``direct``: a person's direct room with the bot, where the notice is
        written to them in their language."""
        fresh = await self.apply(client, room_id, list(room.users))
        people = sorted({u.user_id for u in fresh})
        for person in people:
            if direct:
                language = await language_of(person)
                text = render(language, DIRECT_NOTICE) if language else t(DIRECT_NOTICE)
            else:
                text = t(ROOM_NOTICE, person=person)
            await self._notice(client, room_id, text)

    async def _notice(self, client: AsyncClient, room_id: str, text: str) -> None:
        """One content-free ``m.notice``, sent unencrypted on purpose: the person
        may have no verified session at all, and must still learn why they
        read nothing. It names no case and carries nothing of a report."""
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/"
            f"sosbot-trust-{uuid4().hex}"
        )
        try:
            await api_request(client, "PUT", path, {"msgtype": "m.notice", "body": text})
        except Exception as exc:  # the notice is a courtesy: never block the send it precedes
            log.warning("Matrix trust notice failed: %s", type(exc).__name__)
        else:
            log.info("Matrix trust notice sent: a member has an unverified device")

    def _rotate(self, client: AsyncClient, users: set[str]) -> None:
        """A fresh outbound session in every room shared with ``users``."""
        olm = client.olm
        assert olm is not None
        for room_id, room in client.rooms.items():
            if users & set(room.users):
                olm.outbound_group_sessions.pop(room_id, None)
        log.info("Matrix room keys rotated: a device gained or lost its cross-signature")

"""``sosbot discover`` on Matrix: a throw-away device that answers ``!id``.

It logs in with the bot's password as a new, temporary device whose E2EE
store lives in a temporary folder (SQLCipher under a random key that is
never written down), and on exit it logs that device out (the homeserver
deletes it and its keys) and removes the folder. The bot's own device, its
store in ``matrix.store_dir`` and the database are never opened: nothing of
the run outlives it.

* ``!id`` or ``/id`` (Element swallows ``/``) in a room: the answer and the
  console line give the room's id and the sender's, as the config writes them.
* Invites are joined at once, and the console prints the room's id and the
  inviter's: that alone fills ``[advisory] rooms``, even where nothing can be
  decrypted.
* An encrypted room: the temporary device reads ``!id`` only if the sender's
  client shared the room key with it (Element does for messages it encrypts
  after the device appeared; it never does for earlier ones). A message it
  cannot decrypt still shows in clear who sent it where: the console prints
  both, with how to read the ids in Element, and the room is told once.

The first sync's timeline (history) is skipped: only what is written while
``discover`` runs is answered.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomMessageText,
    SyncResponse,
)

from bot.transports.matrix_keys import exchange_keys
from bot.transports.matrix_state import MatrixStartError
from bot.transports.matrix_store import CipherStore

DEVICE_NAME = "sosbot discover (temporary)"
ELEMENT_HINT = (
    "in Element a room's id is under Settings → Advanced → Internal room ID, "
    "a person's @name:server on their profile"
)
COMMANDS = ("/id", "!id")

Print = Callable[[str], None]


def id_text(room_id: str, encrypted: bool, sender: str) -> str:
    """The answer to ``!id``, in the config's own address form."""
    kind = "encrypted" if encrypted else "unencrypted"
    return f"This room: matrix:{room_id} ({kind})\nYou: matrix:{sender}"


def undecryptable_text(room_id: str) -> str:
    return (
        f"This room: matrix:{room_id}. A temporary device of the bot could not decrypt "
        f"a message here (its sender's app did not share the room key with it); "
        f"{ELEMENT_HINT}."
    )


def is_id_command(body: str) -> bool:
    words = body.strip().split()
    return bool(words) and words[0].lower() in COMMANDS


class MatrixDiscover:
    """One temporary device: ``start``, ``step`` (one sync) until stopped, ``close``."""

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        password: str,
        *,
        out: Print,
        sync_timeout_ms: int = 30_000,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self._password = password
        self.out = out
        self.sync_timeout_ms = sync_timeout_ms
        self.folder = Path(tempfile.mkdtemp(prefix="sosbot-discover-"))  # mode 0700
        self.client = AsyncClient(
            self.homeserver,
            user_id,
            store_path=os.fspath(self.folder),
            config=AsyncClientConfig(
                store=CipherStore,
                encryption_enabled=True,
                store_sync_tokens=False,
                pickle_key=base64.b64encode(os.urandom(32)).decode("ascii"),
                max_limit_exceeded=0,
                max_timeouts=0,
                request_timeout=60,
            ),
        )
        self._told: set[str] = set()  # rooms told once that a message was unreadable

    async def start(self) -> None:
        """Log in as a temporary device and skip the history; one line if impossible."""
        try:
            response = await self.client.login(self._password, device_name=DEVICE_NAME)
            if not isinstance(response, LoginResponse):
                raise MatrixStartError(
                    f"Matrix at {self.homeserver} refused the login "
                    f"({response.status_code or 'no answer'}; check matrix.user_id and "
                    "matrix.password_env/password_file)"
                )
            await self.step(timeout_ms=0, history=False)
        except (ClientError, TimeoutError, OSError) as exc:
            raise MatrixStartError(
                f"cannot reach the Matrix homeserver {self.homeserver} ({type(exc).__name__})"
            ) from None

    async def step(self, *, timeout_ms: int | None = None, history: bool = True) -> None:
        """One sync, its key traffic, then the invites and the ``!id``s it brought."""
        client = self.client
        response = await client.sync(
            timeout=self.sync_timeout_ms if timeout_ms is None else timeout_ms,
            full_state=not history,
            sync_filter={"presence": {"not_types": ["*"]}},
        )
        if not isinstance(response, SyncResponse):
            raise MatrixStartError(f"Matrix sync refused ({response.status_code})")
        await exchange_keys(client)
        for room_id, info in response.rooms.invite.items():
            inviter = next(
                (
                    e.sender
                    for e in info.invite_state
                    if isinstance(e, InviteMemberEvent) and e.state_key == self.user_id
                ),
                None,
            )
            await self._join(room_id, inviter)
        if not history:
            return
        for room_id, joined in response.rooms.join.items():
            for event in joined.timeline.events:
                if event.sender == self.user_id:
                    continue
                if isinstance(event, RoomMessageText) and is_id_command(event.body):
                    await self._answer(room_id, event.sender)
                elif isinstance(event, MegolmEvent):
                    await self._undecryptable(room_id, event.sender)

    async def _join(self, room_id: str, inviter: str | None) -> None:
        joined = await self.client.join(room_id)
        who = f" (invited by matrix:{inviter})" if inviter else ""
        if isinstance(joined, JoinResponse):
            self.out(f"Joined room: matrix:{room_id}{who}")
        else:
            self.out(f"Could not join room matrix:{room_id}{who}: {joined.status_code}")

    async def _answer(self, room_id: str, sender: str) -> None:
        room = self.client.rooms.get(room_id)
        text = id_text(room_id, bool(room and room.encrypted), sender)
        await self._send(room_id, text)
        self.out(text.replace("\n", "; "))

    async def _undecryptable(self, room_id: str, sender: str) -> None:
        self.out(
            f"This room: matrix:{room_id} (encrypted); from matrix:{sender}: a message this "
            f"temporary device cannot decrypt; {ELEMENT_HINT}"
        )
        if room_id not in self._told:
            self._told.add(room_id)
            await self._send(room_id, undecryptable_text(room_id))

    async def _send(self, room_id: str, text: str) -> None:
        # A notice, so that other bots do not answer it; unverified devices are
        # included: the people writing !id are the operator's own.
        await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.notice", "body": text},
            ignore_unverified_devices=True,
        )

    async def close(self) -> None:
        """Log the temporary device out (the homeserver deletes it), remove its store."""
        try:
            if self.client.access_token:
                await self.client.logout()
        except (ClientError, TimeoutError, OSError):
            self.out(
                "discover: could not log the temporary Matrix device out; remove "
                f"the session {DEVICE_NAME!r} in Element's settings"
            )
        finally:
            await self.client.close()
            shutil.rmtree(self.folder, ignore_errors=True)


async def serve(device: MatrixDiscover, stop: asyncio.Event) -> None:
    """Sync until cancelled; a revoked login stops ``discover``, a network error waits."""
    delay = 1.0
    while True:
        try:
            await device.step()
            delay = 1.0
        except MatrixStartError as exc:
            device.out(f"discover: {exc}")
            stop.set()
            return
        except (ClientError, TimeoutError, OSError) as exc:
            device.out(f"discover: Matrix sync failed ({type(exc).__name__}); retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

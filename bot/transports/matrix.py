"""Matrix through matrix-nio with end-to-end encryption.

Start: restore the saved login (same device, same keys) or log in with the
password once; refuse a device whose E2EE store is gone (one line saying
what to do); sync from the token up to which everything was handled, so
what arrived while the bot was down is answered; make sure the device is
cross-signed (matrix_crosssign.py); then keep syncing.

Events: each room's events are handled in order by one worker per room;
rooms run in parallel. The saved sync token only moves past a sync once
every event of it was handled. The bot joins every invite and forgets rooms
it is removed from (the destination is marked inactive). An event that
cannot be decrypted waits a grace period for its late room key (the key is
also requested), then the sender is asked to send it again.

Stop: stop syncing, let in-flight handling finish (bounded), cancel the
rest. Never log out: that would delete the device and its keys.

Logs carry event types and counts only: no bodies, user or room ids, tokens.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    SyncResponse,
)

from bot.transports.base import Deliver, FileGate
from bot.transports.matrix_crosssign import CrossSigner, SecretStore
from bot.transports.matrix_dms import DirectRooms
from bot.transports.matrix_events import RoomEvents
from bot.transports.matrix_http import api_request
from bot.transports.matrix_incoming import IncomingBuilder
from bot.transports.matrix_messenger import AccountBook, MatrixMessenger, SendPolicy
from bot.transports.matrix_queue import RoomQueues
from bot.transports.matrix_signal import SyncSignal
from bot.transports.matrix_state import (
    CREDENTIALS,
    STATE,
    Credentials,
    MatrixStartError,
    MatrixStoreLost,
    SyncState,
    check_crypto_store,
    check_device,
    crypto_store_path,
    load_credentials,
    prepare_dir,
    record_device,
    save_credentials,
)
from bot.transports.matrix_store import CipherStore
from handlers.messages import Platform
from handlers.messenger import TransientSendError

if TYPE_CHECKING:
    from bot.config import Config
    from handlers.services import Services

__all__ = ["MatrixOptions", "MatrixStartError", "MatrixStoreLost", "MatrixTransport"]

log = logging.getLogger(__name__)

PICKLE_SECRET = "matrix.store_pickle_key"
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class MatrixOptions:
    sync_timeout_ms: int = 30_000
    key_grace: float = 30.0  # seconds an undecryptable event waits for its room key
    grace_sleep: Sleep = asyncio.sleep  # the grace-period timer (tests inject their own)
    timeline_limit: int = 50
    gap_pages: int = 10  # /messages pages fetched to fill a limited timeline
    stop_timeout: float = 10.0
    send: SendPolicy = field(default_factory=SendPolicy)


class MatrixTransport:
    platform = Platform.MATRIX

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        password: str,
        store_dir: Path,
        *,
        secrets: SecretStore,
        accounts: AccountBook,
        default_language: str = "en",
        max_attachment_bytes: int = 10_000_000,
        device_name: str = "sosbot",
        options: MatrixOptions | None = None,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self._password = password
        self.store_dir = store_dir
        self.secrets = secrets
        self.accounts = accounts
        self.default_language = default_language
        self.device_name = device_name
        self.options = options or MatrixOptions()
        self.state = SyncState(store_dir / STATE)
        self.signal = SyncSignal()
        self.messenger = MatrixMessenger(
            accounts, self.state, self.signal, DirectRooms(secrets), self.options.send
        )
        self.events = RoomEvents(
            user_id,
            self.state,
            IncomingBuilder(user_id, self.state, max_attachment_bytes),
            self.messenger,
            accounts,
            self.signal,
            default_language=default_language,
            key_grace=self.options.key_grace,
            grace_sleep=self.options.grace_sleep,
            gap_pages=self.options.gap_pages,
        )
        self.queues = RoomQueues(self._handled_up_to)
        self.client: AsyncClient | None = None
        self.cross_signing: str | None = None  # how the last start went (operators, tests)
        self._sync_task: asyncio.Task[None] | None = None
        self.last_receive: float | None = None  # time of the last successful sync (monitoring)

    @classmethod
    def from_config(
        cls,
        config: Config,
        password: str,
        services: Services,
        options: MatrixOptions | None = None,
    ) -> MatrixTransport:
        section = config.matrix
        return cls(
            section.homeserver,
            section.user_id,
            password,
            section.store_dir,
            secrets=services.db.bot_secrets,
            accounts=services.db.accounts,
            default_language=services.settings.default_language,
            max_attachment_bytes=services.settings.max_attachment_bytes,
            device_name=section.device_name,
            options=options,
        )

    # ------------------------------------------------------------ lifecycle
    async def check(self) -> str:
        credentials = load_credentials(self.store_dir)
        client = AsyncClient(self.homeserver, self.user_id)
        try:
            if credentials is None:
                versions = await api_request(client, "GET", "/_matrix/client/versions")
                newest = (versions.get("versions") or ["?"])[-1]
                return (
                    f"homeserver reachable (Matrix {newest}); the first run logs in as a new device"
                )
            held = await self.secrets.get(PICKLE_SECRET)
            if held is None:
                raise MatrixStoreLost(self._missing_key_message())
            check_crypto_store(self.store_dir, credentials, held.decode("ascii"))
            client.access_token = credentials.access_token
            await api_request(client, "GET", "/_matrix/client/v3/account/whoami")
            return f"logged in as device {credentials.device_id}; E2EE store present"
        finally:
            await client.close()

    async def start(self, deliver: Deliver, takes_files: FileGate | None = None) -> None:
        self.events.deliver = deliver
        self.events.takes_files = takes_files
        self.events.stopping.clear()
        prepare_dir(self.store_dir)
        credentials = load_credentials(self.store_dir)
        if credentials is not None:
            if credentials.user_id != self.user_id or credentials.homeserver != self.homeserver:
                raise MatrixStartError(
                    f"{self.store_dir / CREDENTIALS} belongs to another account or "
                    f"homeserver than the config names; delete it to log in as the configured one"
                )
        pickle_key = await self._pickle_key(credentials)
        if credentials is not None:
            await check_device(self.secrets, self.store_dir, credentials)
            check_crypto_store(self.store_dir, credentials, pickle_key)
        self.state.reload()
        if self.state.legacy_dms:  # an earlier version's clear-text mapping: into the database
            await self.messenger.dms.adopt(self.state.legacy_dms)
            self.state.legacy_dms = {}
            self.state.save()
        client = AsyncClient(
            self.homeserver,
            self.user_id,
            store_path=os.fspath(self.store_dir),
            config=AsyncClientConfig(
                store=CipherStore,  # one SQLCipher file per device, trust state included
                encryption_enabled=True,
                store_sync_tokens=False,  # saved by us, once handled (see _Batch)
                pickle_key=pickle_key,
                max_limit_exceeded=0,  # 429s are ours to handle (bounded)
                max_timeouts=0,  # and so are network errors
                request_timeout=60,
            ),
        )
        self.client = client
        try:
            await self._log_in(client, credentials)
            since = self.state.next_batch
            response = await self._sync(client, first=True)
            await self._housekeeping(client)
            await self._cross_sign(client)  # before any answer: Element drops unsigned senders
        except (ClientError, TimeoutError) as exc:
            await self._abandon(client)
            raise MatrixStartError(
                f"cannot reach the Matrix homeserver {self.homeserver} ({type(exc).__name__})"
            ) from None
        except BaseException:
            await self._abandon(client)
            raise
        self.messenger.client = self.events.client = client
        self.signal.ready.set()
        self._dispatch(response, since, replay=since is not None)  # a new login skips history
        self.signal.fire()
        self._sync_task = asyncio.create_task(self._sync_loop(), name="matrix-sync")

    async def _abandon(self, client: AsyncClient) -> None:
        await client.close()
        self.client = None

    async def stop(self) -> None:
        """Stop syncing, let in-flight handling finish (bounded), cancel the rest."""
        self.events.stopping.set()  # key waits give up at once; their events stay unhandled
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
            self._sync_task = None
        await self.queues.stop(self.options.stop_timeout)
        self.signal.ready.clear()
        self.messenger.client = self.events.client = None
        if self.client is not None:
            await self.client.close()  # never logout(): that deletes the device's keys
            self.client = None

    async def _pickle_key(self, credentials: Credentials | None) -> str:
        """The key nio encrypts the Olm account and room keys with, kept in the database."""
        held = await self.secrets.get(PICKLE_SECRET)
        if held is not None:
            return held.decode("ascii")
        if credentials is not None:
            raise MatrixStoreLost(self._missing_key_message())
        key = base64.b64encode(os.urandom(32)).decode("ascii")
        await self.secrets.put(PICKLE_SECRET, key.encode("ascii"))
        return key

    def _missing_key_message(self) -> str:
        return (
            f"the key of the Matrix store at {self.store_dir} is missing from the database: "
            f"restore the database from backup, or delete "
            f"{self.store_dir / CREDENTIALS} to log in as a new device"
        )

    async def _log_in(self, client: AsyncClient, credentials: Credentials | None) -> None:
        if credentials is not None:
            try:
                client.restore_login(
                    credentials.user_id, credentials.device_id, credentials.access_token
                )
            except Exception as exc:
                raise MatrixStoreLost(
                    f"the Matrix store at {self.store_dir} cannot be opened for device "
                    f"{credentials.device_id} ({type(exc).__name__}); restore the store and "
                    f"the database from the same backup"
                ) from None
            log.info("Matrix login restored")
            return
        response = await client.login(self._password, device_name=self.device_name)
        if not isinstance(response, LoginResponse):
            raise MatrixStartError(f"Matrix login failed: {response.status_code or 'no answer'}")
        save_credentials(
            self.store_dir,
            Credentials(self.homeserver, self.user_id, client.device_id, client.access_token),
        )
        await record_device(self.secrets, client.device_id)
        store_file = crypto_store_path(self.store_dir, self.user_id, client.device_id)
        if store_file.exists():
            os.chmod(store_file, 0o600)
        self.state.next_batch = None  # a new device: nothing of the old one applies
        self.state.handled.clear()
        self.state.save()
        log.info("Matrix login done: a new device")

    async def _cross_sign(self, client: AsyncClient) -> None:
        assert client.olm is not None
        olm = client.olm
        signer = CrossSigner(client, self._password, self.secrets, olm.sign_json)
        try:
            self.cross_signing = str(await signer.ensure())
        except Exception as exc:  # the bot still works for clients that do not insist
            self.cross_signing = "failed"
            log.error("Matrix cross-signing failed: %s", type(exc).__name__)
        else:
            log.info("Matrix cross-signing: %s", self.cross_signing)

    # ------------------------------------------------------------------ sync
    def _filter(self) -> dict[str, Any]:
        return {
            "room": {"timeline": {"limit": self.options.timeline_limit}},
            "presence": {"not_types": ["*"]},
        }

    async def _sync_loop(self) -> None:
        client = self.client
        assert client is not None
        delay = 1.0
        while True:
            try:
                since = client.next_batch
                response = await self._sync(client, first=False)
                delay = 1.0
                await self._housekeeping(client)
                self._dispatch(response, since, replay=True)
                self.signal.fire()
            except asyncio.CancelledError:
                raise
            except MatrixStartError as exc:
                log.error("Matrix sync stopped: %s", exc)
                return
            except Exception as exc:
                log.warning(
                    "Matrix sync failed (%s); retrying in %.0f s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _sync(self, client: AsyncClient, *, first: bool) -> SyncResponse:
        """One sync; nio decrypts what it can and updates rooms and keys."""
        since = self.state.next_batch if first else None
        response = await client.sync(
            timeout=0 if first else self.options.sync_timeout_ms,
            sync_filter=self._filter(),
            since=since,
            full_state=first,
        )
        if not isinstance(response, SyncResponse):
            if response.status_code == "M_UNKNOWN_TOKEN":
                raise MatrixStartError(
                    f"the Matrix access token was revoked (the device was signed out); delete "
                    f"{self.store_dir / CREDENTIALS} to log in as a new device"
                )
            raise TransientSendError(f"matrix: sync refused ({response.status_code})")
        self.last_receive = time.time()
        return response

    async def _housekeeping(self, client: AsyncClient) -> None:
        """What nio's sync_forever does after each sync: keys out, keys in.

        A failure here is logged, never raised: the sync it follows was already
        taken in by nio, so its events must still be dispatched.
        """
        try:
            await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            await self.messenger.refresh_keys(client)
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except Exception as exc:
            log.warning("Matrix key housekeeping failed: %s", type(exc).__name__)

    def _handled_up_to(self, token: str) -> None:
        if token != self.state.next_batch:
            self.state.next_batch = token
            self.state.save()

    def _dispatch(self, response: SyncResponse, since: str | None, replay: bool) -> None:
        """Queue every room's jobs of one sync, each room in its own worker."""
        events, queues = self.events, self.queues
        batch = queues.open(str(response.next_batch))
        for room_id, info in response.rooms.invite.items():
            direct = any(
                isinstance(e, InviteMemberEvent)
                and e.state_key == self.user_id
                and bool(e.content.get("is_direct"))
                for e in info.invite_state
            )
            queues.enqueue(room_id, batch, partial(events.join, room_id, direct))
        for room_id, info in response.rooms.join.items():
            if not replay:
                continue
            timeline = info.timeline
            if timeline.limited and timeline.prev_batch and since:
                gap = partial(events.fill_gap, room_id, timeline.prev_batch, since)
                queues.enqueue(room_id, batch, gap)
            for event in timeline.events:
                if events.wanted(event):
                    queues.enqueue(room_id, batch, partial(events.handle, room_id, event))
        for room_id in response.rooms.leave:
            queues.enqueue(room_id, batch, partial(events.left, room_id))
        queues.seal(batch)

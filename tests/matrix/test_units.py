"""The Matrix transport's pieces that need no homeserver."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientConnectionError
from nio import OlmUnverifiedDeviceError, RoomSendError, RoomSendResponse

from bot.transports import matrix_crosssign
from bot.transports.matrix import PICKLE_SECRET, MatrixTransport
from bot.transports.matrix_crosssign import (
    CrossSigner,
    MatrixApiError,
    Seeds,
    canonical_json,
    public_of,
    sign_json,
    verify_json,
)
from bot.transports.matrix_dms import DirectRooms
from bot.transports.matrix_incoming import is_private, strip_reply_fallback
from bot.transports.matrix_messenger import MatrixMessenger, SendPolicy
from bot.transports.matrix_queue import RoomQueues
from bot.transports.matrix_signal import SyncSignal, split_text
from bot.transports.matrix_state import (
    CREDENTIALS,
    Credentials,
    MatrixStartError,
    MatrixStoreLost,
    SyncState,
    check_crypto_store,
    crypto_store_path,
    save_credentials,
)
from bot.transports.matrix_store import PLAIN_HEADER
from handlers.messages import Address, Platform
from handlers.messenger import DestinationGone, RateLimited, TransientSendError
from tests.matrix.peers import MemoryAccounts, MemorySecrets, Recorder
from tests.servers.net import free_port

ROOM = Address(Platform.MATRIX, "!room:example.org")


# ------------------------------------------------------------------ rendering


def test_split_text_keeps_short_texts_whole() -> None:
    assert split_text("hello") == ["hello"]
    assert split_text("") == [""]


@pytest.mark.parametrize("unit", ["word ", "ا", "😀", "line\n"])
def test_split_text_parts_fit_once_escaped(unit: str) -> None:
    text = unit * 30_000
    parts = split_text(text, limit=5_000)
    assert len(parts) > 1
    assert all(len(json.dumps(p)) <= 5_000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_reply_fallback_is_stripped() -> None:
    assert strip_reply_fallback("> <@a:b> earlier\n> more\n\nmy answer") == "my answer"
    assert strip_reply_fallback("> quoting myself, no blank line") == (
        "> quoting myself, no blank line"
    )
    assert strip_reply_fallback("plain") == "plain"


# --------------------------------------------------------------- cross-signing


def test_canonical_json_and_signatures() -> None:
    assert canonical_json({"b": 1, "a": "é", "c": [1, {"z": 0, "y": None}]}) == (
        '{"a":"é","b":1,"c":[1,{"y":null,"z":0}]}'.encode()
    )
    seeds = Seeds.generate()
    key = seeds.key(seeds.self_signing)
    value: dict[str, Any] = {"user_id": "@bot:x", "keys": {"a": "b"}, "unsigned": {"n": 1}}
    signature = sign_json(key, value)
    public = public_of(seeds.self_signing)
    # "signatures" and "unsigned" are not signed.
    assert verify_json(public, {**value, "signatures": {"x": {}}, "unsigned": {}}, signature)
    assert not verify_json(public, {**value, "user_id": "@evil:x"}, signature)
    assert not verify_json(public_of(seeds.master), value, signature)
    assert Seeds.from_bytes(seeds.to_bytes()) == seeds
    assert "master" not in repr(seeds).split("(", 1)[1]  # seeds never reach a repr


async def test_device_signing_upload_uses_password_auth_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str, dict[str, Any] | None]] = []

    async def fake_request(
        client: Any, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        calls.append((method, path, body))
        if path.endswith("device_signing/upload") and body is not None and "auth" not in body:
            raise MatrixApiError(
                401, {"session": "s1", "flows": [{"stages": ["m.login.password"]}]}
            )
        return {}

    monkeypatch.setattr(matrix_crosssign, "api_request", fake_request)
    client = SimpleNamespace(user_id="@bot:x", device_id="DEV")
    signer = CrossSigner(client, "hunter2", MemorySecrets(), lambda value: "sig")  # type: ignore[arg-type]
    seeds = Seeds.generate()
    await signer._publish(seeds)

    assert [c[1].rsplit("/", 1)[-1] for c in calls] == ["upload", "upload"]
    auth = calls[1][2]["auth"]  # type: ignore[index]
    assert auth == {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "@bot:x"},
        "password": "hunter2",
        "session": "s1",
    }
    uploaded = calls[1][2]
    assert uploaded is not None
    master = public_of(seeds.master)
    assert uploaded["master_key"]["keys"] == {f"ed25519:{master}": master}
    ssk = uploaded["self_signing_key"]
    assert verify_json(master, ssk, ssk["signatures"]["@bot:x"][f"ed25519:{master}"])


# -------------------------------------------------------------------- the store


def test_state_round_trip_and_file_modes(tmp_path: Path) -> None:
    state = SyncState(tmp_path / "state.json")
    state.reload()
    assert state.next_batch is None
    state.next_batch = "s1"
    state.mark_handled("$a")
    state.direct.add("!d:x")
    state.legacy_dms["@p:x"] = "!d:x"  # read from an earlier version's file, never written
    state.save()
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600
    assert "@p:x" not in (tmp_path / "state.json").read_text()

    again = SyncState(tmp_path / "state.json")
    again.reload()
    assert (again.next_batch, list(again.handled), again.direct, again.legacy_dms) == (
        "s1",
        ["$a"],
        {"!d:x"},
        {},
    )
    (tmp_path / "state.json").write_text("{not json")
    again.reload()  # damaged: start over, never crash
    assert again.next_batch is None


def _fake_store(store_dir: Path, credentials: Credentials, *, with_account: bool) -> None:
    store_dir.mkdir(parents=True, exist_ok=True)
    save_credentials(store_dir, credentials)
    path = crypto_store_path(store_dir, credentials.user_id, credentials.device_id)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (user_id TEXT, device_id TEXT)")
    if with_account:
        conn.execute(
            "INSERT INTO accounts VALUES (?, ?)", (credentials.user_id, credentials.device_id)
        )
    conn.commit()
    conn.close()


def test_a_store_without_the_account_is_lost(tmp_path: Path) -> None:
    credentials = Credentials("http://hs", "@bot:x", "DEV", "token")
    _fake_store(tmp_path, credentials, with_account=False)
    with pytest.raises(MatrixStoreLost, match="missing for device DEV"):
        check_crypto_store(tmp_path, credentials, "pickle-key")
    assert stat.S_IMODE((tmp_path / CREDENTIALS).stat().st_mode) == 0o600


def test_a_plain_store_of_an_earlier_version_is_encrypted_in_place(tmp_path: Path) -> None:
    credentials = Credentials("http://hs", "@bot:x", "DEV", "token")
    _fake_store(tmp_path, credentials, with_account=True)
    path = crypto_store_path(tmp_path, credentials.user_id, credentials.device_id)
    assert path.read_bytes().startswith(PLAIN_HEADER)
    check_crypto_store(tmp_path, credentials, "pickle-key")  # converts, then finds the account
    raw = path.read_bytes()
    assert not raw.startswith(PLAIN_HEADER)
    assert b"@bot:x" not in raw and b"DEV" not in raw
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CREDENTIALS, path.name])
    with pytest.raises(MatrixStoreLost):  # another key opens nothing
        check_crypto_store(tmp_path, credentials, "another-key")


async def test_a_store_whose_key_left_the_database_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "matrix"
    _fake_store(store, Credentials("http://hs", "@bot:x", "DEV", "t"), with_account=True)
    transport = MatrixTransport(
        "http://hs", "@bot:x", "pw", store, secrets=MemorySecrets(), accounts=MemoryAccounts()
    )
    with pytest.raises(MatrixStoreLost) as raised:
        await transport.start(Recorder())
    assert "missing from the database" in str(raised.value)
    assert "\n" not in str(raised.value)


async def test_another_accounts_credentials_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "matrix"
    _fake_store(store, Credentials("http://hs", "@other:x", "DEV", "t"), with_account=True)
    secrets = MemorySecrets()
    secrets.values[PICKLE_SECRET] = b"k"
    transport = MatrixTransport(
        "http://hs", "@bot:x", "pw", store, secrets=secrets, accounts=MemoryAccounts()
    )
    with pytest.raises(RuntimeError, match="another account"):
        await transport.start(Recorder())


# ------------------------------------------------------- ordering and the token


async def test_rooms_run_in_parallel_in_order_and_the_token_waits() -> None:
    saved: list[str] = []
    queues = RoomQueues(saved.append)
    done: list[str] = []
    gate = asyncio.Event()

    async def job(name: str, wait: bool = False) -> None:
        if wait:
            await gate.wait()
        done.append(name)

    first = queues.open("t1")
    queues.enqueue("!a", first, lambda: job("a1", wait=True))
    queues.enqueue("!a", first, lambda: job("a2"))
    queues.enqueue("!b", first, lambda: job("b1"))
    queues.seal(first)
    second = queues.open("t2")
    queues.enqueue("!b", second, lambda: job("b2"))
    queues.seal(second)

    await asyncio.sleep(0.01)
    assert done == ["b1", "b2"]  # room b did not wait for room a
    assert saved == []  # t1 is not handled yet, so neither token may be saved
    gate.set()
    await asyncio.sleep(0.01)
    assert done == ["b1", "b2", "a1", "a2"]
    assert saved == ["t2"]
    assert not queues.workers and not queues.queues
    await queues.stop(1.0)


async def test_a_failing_job_does_not_stop_its_room() -> None:
    saved: list[str] = []
    queues = RoomQueues(saved.append)
    done: list[str] = []

    async def boom() -> None:
        raise ValueError("a poison event")

    async def fine() -> None:
        done.append("fine")

    batch = queues.open("t1")
    queues.enqueue("!a", batch, boom)
    queues.enqueue("!a", batch, fine)
    queues.seal(batch)
    await asyncio.sleep(0.01)
    assert done == ["fine"] and saved == ["t1"]


async def test_stop_cancels_what_does_not_finish() -> None:
    queues = RoomQueues(lambda token: None)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    batch = queues.open("t1")
    queues.enqueue("!a", batch, forever)
    await started.wait()
    await queues.stop(0.01)
    assert not queues.workers and len(queues.tasks) == 0


# ------------------------------------------------------------- error mapping


def _messenger(accounts: MemoryAccounts) -> tuple[MatrixMessenger, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    signal = SyncSignal()
    signal.ready.set()
    messenger = MatrixMessenger(
        accounts,
        SyncState(Path("/nonexistent/state.json")),
        signal,
        DirectRooms(MemorySecrets()),
        SendPolicy(attempts=3),
        sleep,
    )
    messenger.client = SimpleNamespace(rooms={})  # type: ignore[assignment]
    return messenger, waits


def _answers(*answers: Any) -> Any:
    queue = list(answers)

    async def call() -> Any:
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return call


async def test_limit_exceeded_waits_retry_after_then_succeeds() -> None:
    messenger, waits = _messenger(MemoryAccounts())
    ok = RoomSendResponse("$e", "!room:example.org")
    limited = RoomSendError("slow down", "M_LIMIT_EXCEEDED", 1500)
    assert await messenger._retrying(ROOM, _answers(limited, limited, ok)) is ok
    assert waits == [1.5, 1.5]


async def test_limit_exceeded_from_the_outbox_is_raised_for_the_lane() -> None:
    # The lane's gate owns rate limits: it must learn retry_after, not wait blind.
    messenger, waits = _messenger(MemoryAccounts())
    ok = RoomSendResponse("$e", "!room:example.org")
    limited = RoomSendError("slow down", "M_LIMIT_EXCEEDED", 1500)
    with pytest.raises(RateLimited) as raised:
        await messenger._retrying(ROOM, _answers(limited, ok), outbox=True)
    assert raised.value.retry_after == 1.5
    assert waits == []


class _RefusingTrust:
    """The trust check as the send sees it: no verdict at all, or one that keeps changing."""

    def __init__(self, no_verdict: bool) -> None:
        self.no_verdict = no_verdict
        self.forgotten: list[str] = []

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        if self.no_verdict:
            raise MatrixApiError(502, {})

    def forget(self, users: Any) -> None:
        self.forgotten.extend(users)


@pytest.mark.parametrize("no_verdict", [True, False])
async def test_a_send_refused_for_an_unverified_device_is_transient(no_verdict: bool) -> None:
    # The lane retries TransientSendError; nothing is ever sent blind to an unchecked device.
    messenger, _waits = _messenger(MemoryAccounts())
    sends: list[str] = []

    async def room_send(room_id: str, *args: Any, **kwargs: Any) -> Any:
        sends.append(room_id)
        assert kwargs["ignore_unverified_devices"] is False
        raise OlmUnverifiedDeviceError(SimpleNamespace(user_id="@ana:example.org"))

    room = SimpleNamespace(encrypted=True)
    messenger.client = SimpleNamespace(  # type: ignore[assignment]
        rooms={ROOM.id: room}, should_query_keys=False, room_send=room_send
    )
    trust = _RefusingTrust(no_verdict)
    messenger.trust = trust  # type: ignore[assignment]
    with pytest.raises(TransientSendError) as raised:
        await messenger.send_text(ROOM, "hello", txn_id="sosbot.outbox.1")
    assert not isinstance(raised.value, (RateLimited, DestinationGone))
    if no_verdict:
        assert sends == []
    else:  # checked again once, then left to the lane
        assert sends == [ROOM.id, ROOM.id] and trust.forgotten == ["@ana:example.org"] * 2


async def test_forbidden_marks_the_destination_inactive() -> None:
    accounts = MemoryAccounts()
    messenger, _waits = _messenger(accounts)
    with pytest.raises(DestinationGone):
        await messenger._retrying(ROOM, _answers(RoomSendError("not in room", "M_FORBIDDEN")))
    assert accounts.inactive == [str(ROOM)]


async def test_network_errors_give_up_as_transient() -> None:
    accounts = MemoryAccounts()
    messenger, waits = _messenger(accounts)
    error = ClientConnectionError("down")
    with pytest.raises(TransientSendError):
        await messenger._retrying(ROOM, _answers(error, error, error))
    assert len(waits) == 3 and accounts.inactive == []


def test_private_means_the_bot_and_the_sender_only(tmp_path: Path) -> None:
    state = SyncState(tmp_path / "state.json")

    def room(users: set[str], invited: frozenset[str] = frozenset()) -> Any:
        return SimpleNamespace(
            room_id="!r:x", users=dict.fromkeys(users), invited_users=dict.fromkeys(invited)
        )

    assert is_private(room({"@bot:x", "@ana:x"}), "@bot:x", "@ana:x", state)
    assert not is_private(room({"@bot:x", "@ana:x", "@bo:x"}), "@bot:x", "@ana:x", state)
    state.direct.add("!r:x")  # the inviter marked it direct
    assert is_private(
        room({"@bot:x", "@ana:x", "@bo:x"}, frozenset({"@bo:x"})), "@bot:x", "@ana:x", state
    )
    # …but a "direct" room with someone else joined is a group.
    assert not is_private(room({"@bot:x", "@ana:x", "@bo:x"}), "@bot:x", "@ana:x", state)


async def test_an_unreachable_homeserver_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    transport = MatrixTransport(
        f"http://127.0.0.1:{port}",
        "@bot:x",
        "pw",
        tmp_path / "matrix",
        secrets=MemorySecrets(),
        accounts=MemoryAccounts(),
    )
    with pytest.raises(MatrixStartError) as raised:
        await transport.start(Recorder())
    assert str(raised.value) == (
        f"cannot reach the Matrix homeserver http://127.0.0.1:{port} (ClientConnectorError)"
    )
    await transport.stop()

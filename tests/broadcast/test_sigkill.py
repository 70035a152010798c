"""SIGKILL in the middle of a broadcast: the bot process dies between two sends
(or during one), with no chance to write anything. The next start resumes, and no
chat gets the appeal twice; what was in flight is reported, never resent."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

from handlers.clock import SystemClock
from storage import Database
from storage.repos.outbox import SENT, UNCERTAIN
from tests.broadcast.conftest import MASTER_KEY, Network

ROOT = Path(__file__).resolve().parents[2]


def urgent_sent(network: Network) -> int:
    return sum(
        "Urgent" in str(r.params.get("text"))
        for r in network.server.requests_for("sendMessage")
        if r.ok
    )


async def test_a_killed_bot_process_resumes_without_a_duplicate(
    network: Network, tmp_path: Path
) -> None:
    await network.start()
    await network.add_members(groups=60, people=20)
    url = network.running.config.storage.url
    await network.stop()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.broadcast.crash_child",
        network.server.base_url,
        str(tmp_path),
        str(network.triage.id),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
        db = await Database.open(url, base64.b64decode(MASTER_KEY), SystemClock().now)
        try:
            triage = [f"telegram:{network.triage.id}"]
            await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", network.deliveries(), triage)
        finally:
            await db.close()
        # The child sends; kill it in the middle.
        await network.server.request_notifier.wait_for(
            lambda: True if urgent_sent(network) >= 15 else None, 20
        )
    finally:
        child.kill()
        await child.wait()
    chats = [*network.groups, *network.people]
    assert 15 <= sum(len(network.received(chat)) for chat in chats) < len(chats)
    await network.start()
    report = (await network.report()).text or ""
    received = [len(network.received(chat)) for chat in chats]
    assert max(received) == 1, "a chat got the appeal twice"
    counts = await network.running.services.db.outbox.counts("appeal", "A-9TXW3B")
    assert counts.get(SENT, 0) + counts.get(UNCERTAIN, 0) == len(chats)
    assert sum(received) >= counts.get(SENT, 0)
    assert ("Uncertain" in report) == (UNCERTAIN in counts)
    assert network.server.count_429 == 0

"""A crash in the middle of a broadcast: no chat ever gets a message twice.

``Dispatcher.kill`` stops the way a crash does: senders stop wherever they
are, and nothing more is written (outcomes not yet committed are lost). A
new App on the same database then resumes.
"""

from __future__ import annotations

import asyncio

from storage.repos.outbox import SENT, UNCERTAIN
from tests.broadcast.conftest import Network, hang_after_sending

GROUPS, PEOPLE = 30, 20


async def _resume_and_check(network: Network) -> tuple[dict[str, int], str]:
    await network.stop()
    await network.start()
    report = (await network.report()).text or ""
    counts = await network.running.services.db.outbox.counts("appeal", "A-9TXW3B")
    chats = [*network.groups, *network.people]
    received = [len(network.received(chat)) for chat in chats]
    assert max(received) == 1, "a chat got the appeal twice"
    assert sum(received) >= counts.get(SENT, 0)
    assert counts.get(SENT, 0) + counts.get(UNCERTAIN, 0) == len(chats)
    assert network.server.count_429 == 0
    return counts, report


async def test_a_crash_between_sends_resumes_without_a_duplicate(network: Network) -> None:
    await network.start()
    await network.add_members(GROUPS, PEOPLE)
    await network.broadcast()
    await network.server.wait_for_request(
        "sendMessage", lambda r: r.ok and "Urgent" in str(r.params.get("text")), 10
    )
    await asyncio.sleep(0.3)
    await network.running.dispatcher.kill()
    counts, report = await _resume_and_check(network)
    # Whatever was in flight at the crash is reported, never resent; the rest arrived once.
    uncertain = counts.get(UNCERTAIN, 0)
    assert uncertain <= network.running.dispatcher.lanes[0].policy.concurrency
    assert ("Uncertain" in report) == bool(uncertain)


async def test_a_crash_after_a_send_before_its_outcome_is_written(network: Network) -> None:
    """The worst moment: the message went out, the bot died before writing "sent"."""
    await network.start()
    await network.add_members(GROUPS, PEOPLE)
    app = network.running
    crashed, restore = hang_after_sending(app.services.hub, 10)
    await network.broadcast()
    await asyncio.wait_for(crashed.wait(), 10)
    await app.dispatcher.kill()
    restore()
    counts, report = await _resume_and_check(network)
    assert counts.get(UNCERTAIN, 0) >= 1
    assert "Uncertain" in report
    # The tenth message did arrive, once: the report asks a person to check it.
    assert sum(len(network.received(c)) for c in [*network.groups, *network.people]) >= 10


async def test_enqueueing_again_after_a_crash_adds_nothing(network: Network) -> None:
    await network.start()
    await network.add_members(groups=10)
    assert await network.broadcast() == 10
    await network.running.dispatcher.kill()
    await network.stop()
    await network.start()
    assert await network.broadcast() == 0  # ``/appeal send`` repeated after the crash
    await network.report()
    assert all(len(network.received(chat)) <= 1 for chat in network.groups)

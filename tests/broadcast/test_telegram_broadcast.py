"""Broadcasts through python-telegram-bot to the fake Bot API with its flood control on."""

from __future__ import annotations

import asyncio

from storage.repos.outbox import UNCERTAIN
from tests.broadcast.conftest import Network


async def test_many_groups_and_people_get_it_once_with_no_429(network: Network) -> None:
    await network.start()
    await network.add_members(groups=60, people=20)
    assert await network.broadcast() == 80
    report = await network.report()
    for chat in [*network.groups, *network.people]:
        assert len(network.received(chat)) == 1, chat.id
    assert network.server.count_429 == 0
    assert "Sent: 80 of 80." in (report.text or "")
    sends = network.server.requests_for("sendMessage")
    # Never more than the bot's 30 in any one second, as the server saw them arrive.
    times = sorted(r.at for r in sends if r.ok)
    assert all(times[i + 30] - times[i] >= 1.0 for i in range(len(times) - 30))


async def test_one_group_gets_many_messages_at_its_own_pace(network: Network) -> None:
    """A group's 20 a minute is respected: a fourth message waits for its token."""
    await network.start()
    await network.add_members(groups=1)
    for n in range(4):
        await network.broadcast(ref=f"A-00000{n}", text=f"Urgent action {n}")
    await network.server.wait_for_message(
        network.groups[0].id, lambda m: (m.text or "").startswith("Urgent action 3"), 10
    )
    assert network.server.count_429 == 0
    texts = [m.text for m in network.received(network.groups[0])]
    assert [t.split(" ✊")[0] for t in texts if t] == [f"Urgent action {n}" for n in range(4)]


async def test_a_restart_in_the_middle_delivers_every_message_exactly_once(
    network: Network,
) -> None:
    await network.start()
    await network.add_members(groups=30, people=30)
    await network.broadcast()
    await network.server.wait_for_request(
        "sendMessage", lambda r: r.ok and "Urgent" in str(r.params.get("text")), 10
    )
    await asyncio.sleep(0.4)  # some sent, most not
    await network.stop()
    delivered = sum(len(network.received(c)) for c in [*network.groups, *network.people])
    assert 0 < delivered < 60
    await network.start()
    report = await network.report()
    for chat in [*network.groups, *network.people]:
        assert len(network.received(chat)) == 1, chat.id
    assert "Sent: 60 of 60." in (report.text or "")
    assert "Uncertain" not in (report.text or "")
    assert network.server.count_429 == 0


async def test_a_lost_answer_is_never_sent_again_and_is_reported_uncertain(
    network: Network,
) -> None:
    await network.start()
    await network.add_members(groups=5)
    network.server.fail_next("sendMessage", 502, "Bad Gateway", after_effect=True)
    await network.broadcast()
    report = await network.report()
    counts = [len(network.received(chat)) for chat in network.groups]
    assert counts == [1] * 5  # the lost answer's message arrived, and only once
    db = network.running.services.db
    assert (await db.outbox.counts("appeal", "A-9TXW3B")).get(UNCERTAIN) == 1
    text = report.text or ""
    assert "Sent: 4 of 5." in text and "Uncertain" in text and "Organisation" in text


async def test_blocked_and_deleted_chats_end_inactive(network: Network) -> None:
    await network.start()
    await network.add_members(groups=4, people=2)
    kicked, deleted = network.groups[0], network.groups[1]
    network.server.block(kicked.id)
    network.server.delete_chat(deleted.id)
    network.server.block(network.people[0].id)
    await network.broadcast()
    report = await network.report()
    db = network.running.services.db
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {"sent": 3, "inactive": 3}
    for chat in (kicked, deleted):
        group = await db.members.group(f"telegram:{chat.id}")
        assert group is not None and not group.active
    assert "No longer reachable, marked inactive: 3" in (report.text or "")
    # An inactive group is left out of the next audience.
    assert len(await db.members.audience()) == 2


async def test_the_triage_room_sees_progress_edited_in_place(network: Network) -> None:
    await network.start(progress=1.0)
    await network.add_members(groups=0, people=80)
    await network.broadcast()
    report = await network.report(timeout=40)
    progress = [
        m for m in network.server.messages_to(network.triage.id) if "sent" in (m.text or "")
    ]
    assert len(progress) == 1, [m.text for m in progress]  # one message, edited
    assert progress[0].edits >= 1
    assert progress[0].text == "Appeal A-9TXW3B: sent 80 of 80."
    assert progress[0].message_id < report.message_id
    assert network.server.count_429 == 0


async def test_a_429_is_obeyed_not_hammered(network: Network) -> None:
    await network.start()
    await network.add_members(groups=5)
    network.server.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 2", {"retry_after": 2}
    )
    await network.broadcast()
    await network.report()
    for chat in network.groups:
        assert len(network.received(chat)) == 1
    refused = next(r for r in network.server.requests_for("sendMessage") if r.status == 429)
    chat_id = refused.params["chat_id"]
    again = [
        r
        for r in network.server.requests_for("sendMessage")
        if r.params["chat_id"] == chat_id and r.ok
    ]
    assert len(again) == 1 and again[0].at - refused.at >= 2.0
    assert network.server.count_429 == 1  # only the one injected

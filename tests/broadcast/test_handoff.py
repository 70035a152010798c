"""Rows handed to the lane after their commit (``Dispatcher.wake(platform, items)``):
sent without reading them back, and never ahead of an earlier row of their chat
that the lane has not claimed yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.broadcast.dispatcher import Dispatcher
from bot.broadcast.lane import LanePolicy
from bot.broadcast.limits import OpenGate
from handlers.messages import Address, Platform
from storage.records import OutboxItem
from tests.broadcast.test_lane import Rig, person


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made = Rig()
    yield made
    await made.stop()


def queue(rig: Rig, chat: Address, text: str) -> int:
    """A reply committed to the outbox (a message to a person: priority 0)."""
    return rig.outbox.add(str(chat), text, kind="reply", priority=0)


def as_committed(rig: Rig, item_id: int) -> OutboxItem:
    """The row as the unit of work hands it over (before its first attempt)."""
    return replace(rig.outbox.rows[item_id].item, attempts=1)


def counting_claims(rig: Rig) -> list[int]:
    claims: list[int] = []
    original = rig.outbox.claim

    async def claim(*args: object, **kwargs: object) -> list[OutboxItem]:
        claims.append(1)
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    rig.outbox.claim = claim  # type: ignore[method-assign]
    return claims


async def caught_up(rig: Rig, policy: LanePolicy | None = None) -> Dispatcher:
    dispatcher = await rig.start(policy or LanePolicy(Platform.TELEGRAM), OpenGate())
    await rig.time.settle()  # the first claim: nothing is due
    return dispatcher


async def test_a_handed_row_is_sent_without_a_claim(rig: Rig) -> None:
    dispatcher = await caught_up(rig)
    claims = counting_claims(rig)
    saved = queue(rig, person(1), "Your report is saved.")
    dispatcher.wake("telegram", [as_committed(rig, saved)])
    await rig.time.settle()
    assert rig.messenger.to(person(1)) == ["Your report is saved."]
    assert claims == [] and rig.time.now == 0, "sent at once, nothing read back"


async def test_a_handed_row_never_overtakes_an_unclaimed_earlier_one(rig: Rig) -> None:
    dispatcher = await caught_up(rig)
    # A commit with nothing at hand (a held confirmation released) comes first...
    queue(rig, person(1), "The advisory group has been alerted.")
    dispatcher.wake("telegram")
    # ... then a turn's reply to the same person, handed over.
    noted = queue(rig, person(1), "Noted.")
    dispatcher.wake("telegram", [as_committed(rig, noted)])
    await rig.run()
    assert rig.messenger.to(person(1)) == ["The advisory group has been alerted.", "Noted."]


async def test_before_the_first_claim_rows_left_from_before_a_restart_go_first(
    rig: Rig,
) -> None:
    queue(rig, person(1), "left pending by the last run")
    dispatcher = await rig.start(LanePolicy(Platform.TELEGRAM), OpenGate())
    new = queue(rig, person(1), "a new reply")
    dispatcher.wake("telegram", [as_committed(rig, new)])  # no claim has finished yet
    await rig.run()
    assert rig.messenger.to(person(1)) == ["left pending by the last run", "a new reply"]


async def test_while_a_claim_leaves_rows_behind_handed_rows_are_claimed_in_order(
    rig: Rig,
) -> None:
    # One message a second to a person (Telegram's pacing) and one row per claim:
    # after the first send, "earlier 1" waits in hand and "earlier 2" in the database.
    for n in range(3):
        queue(rig, person(1), f"earlier {n}")
    dispatcher = await rig.start(LanePolicy(Platform.TELEGRAM, batch=1))
    await rig.time.settle()
    assert rig.messenger.to(person(1)) == ["earlier 0"]
    latest = queue(rig, person(1), "latest")
    dispatcher.wake("telegram", [as_committed(rig, latest)])
    await rig.run()
    assert rig.messenger.to(person(1)) == ["earlier 0", "earlier 1", "earlier 2", "latest"]


async def test_a_commit_unseen_while_a_claim_was_out_keeps_handed_rows_back(
    rig: Rig,
) -> None:
    dispatcher = await caught_up(rig)
    original = rig.outbox.claim

    async def slow_claim(*args: object, **kwargs: object) -> list[OutboxItem]:
        taken = await original(*args, **kwargs)  # type: ignore[arg-type]
        await rig.time.sleep(1)  # read now, back a second later
        return taken

    rig.outbox.claim = slow_claim  # type: ignore[method-assign]
    queue(rig, person(1), "first")
    dispatcher.wake("telegram")
    await rig.time.settle()  # the claim has read "first" and is on its way back
    queue(rig, person(1), "second")
    dispatcher.wake("telegram")  # committed while that claim was out
    await rig.run(lambda: rig.messenger.to(person(1)) == ["first"])
    third = queue(rig, person(1), "third")
    dispatcher.wake("telegram", [as_committed(rig, third)])
    await rig.run()
    assert rig.messenger.to(person(1)) == ["first", "second", "third"]

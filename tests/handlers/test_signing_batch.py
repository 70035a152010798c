"""Signatures settled together (handlers/signing.py) store and answer exactly as
one turn each would, commit as one, and fall back to the full turn whenever
the batch cannot decide or fails."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.messages import Address, IncomingMessage, Platform
from storage import MemberKind
from tests.handlers.test_appeals import (
    GOMA_ROOM,
    LUCIA,
    STRANGER,
    TIERRA_GROUP,
    UNREGISTERED,
    drafted,
    ready_appeal,
    say,
    seed,
)
from tests.harness.bot import ALICE, BOB, Harness, drain_outbox, make_harness
from tests.storage.conftest import (  # noqa: F401  (fixtures, used by name)
    backend,
    db_url,
    pg_template,
    sqlite_path,
    sqlite_template,
)

SIGNERS = [Address(Platform.TELEGRAM, str(70_000 + n)) for n in range(40)]
TWO_HATS = Address(Platform.TELEGRAM, "5100")  # a contact of two organisations
SOLO = Address(Platform.TELEGRAM, "5200")  # an individual member


@pytest.fixture
async def bot(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:  # noqa: F811
    harness = await make_harness(tmp_path, url=db_url)
    yield harness
    await harness.close()


async def members(bot: Harness) -> None:
    """The three groups of test_appeals, forty organisations with one contact each,
    a person who speaks for two organisations and an individual member."""
    await seed(bot)
    db = bot.db.members
    for n, person in enumerate(SIGNERS):
        org = await db.upsert_organisation(f"Org {n:02d}", country="Peru", region="Americas")
        await db.add_contact(org.id, str(person))
    for name in ("Alpha Collective", "Beta Network"):
        org = await db.upsert_organisation(name, country="Chile", region="Americas")
        await db.add_contact(org.id, str(TWO_HATS))
    solo = await db.upsert_organisation("Ana Solo", kind=MemberKind.INDIVIDUAL, region="Americas")
    await db.add_contact(solo.id, str(SOLO))


def message(bot: Harness, sender: Address, text: str = "", **fields: object) -> IncomingMessage:
    chat = fields.pop("chat", sender)
    assert isinstance(chat, Address)
    return IncomingMessage(
        chat=chat,
        sender=sender,
        text=text,
        is_private=chat == sender,
        message_id=bot.messenger(sender.platform).next_id(),
        **fields,  # type: ignore[arg-type]
    )


async def together(bot: Harness, messages: Sequence[IncomingMessage]) -> None:
    """Deliver all at once, as a transport does for different chats, then send what was queued."""
    await asyncio.gather(
        *(bot.router.deliver(m, bot.messenger(m.sender.platform)) for m in messages)
    )
    await drain_outbox(bot)


def answers(bot: Harness, chat: Address) -> list[str]:
    return [o.text for o in bot.messenger(chat.platform).to(chat)]


async def test_a_crowd_signs_in_one_batch_each_once_and_confirmed_once(bot: Harness) -> None:
    await members(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    crowd = [message(bot, person, f"/sign {ref}") for person in SIGNERS]
    crowd.append(message(bot, SIGNERS[0], f"/sign {ref}"))  # the same person twice at once
    crowd.append(message(bot, STRANGER, choice=f"sign:{ref}", chat=TIERRA_GROUP))
    crowd.append(message(bot, STRANGER, f"!sign {ref}", chat=GOMA_ROOM))
    await together(bot, crowd)

    assert bot.router.signing.batches < len(crowd) / 10, "settled together, not one by one"
    signatures = await bot.db.appeals.signatures(ref)
    names = Counter(s.organisation for s in signatures)
    expected = {f"Org {n:02d}" for n in range(40)} | {"Colectivo Tierra", "Réseau Goma"}
    assert set(names) == expected and set(names.values()) == {1}
    for n, person in enumerate(SIGNERS):
        confirmations = [a for a in answers(bot, person) if ref in a]
        signed = f"Org {n:02d} signed {ref}. Thank you."
        if n == 0:
            assert sorted(confirmations) == sorted([signed, f"Org 00 has already signed {ref}."])
        else:
            assert confirmations == [signed]
    assert answers(bot, TIERRA_GROUP)[-1] == f"Colectivo Tierra signed {ref}. Thank you."
    assert "Réseau Goma" in answers(bot, GOMA_ROOM)[-1]
    status = await say(bot, ALICE, f"/appeal status {ref}")
    assert f"{ref}: 42 signatures." in status, "the tally is exact right after"
    verdict = await bot.db.audit.verify()
    assert verdict.ok, verdict
    entries = await bot.db.audit.entries(limit=10_000)
    assert sum(1 for e in entries if e.action == "appeal.sign") == 42


async def sent_appeal(bot: Harness, target: str = "") -> str:
    ref = await drafted(bot)
    await say(bot, ALICE, f"/appeal text {ref} en Sign, please.")
    await say(bot, ALICE, f"/appeal deadline {ref} 2026-03-01")
    if target:
        await say(bot, ALICE, f"/appeal target {ref} {target}")
    await say(bot, ALICE, f"/appeal approve {ref}")
    await say(bot, BOB, f"/appeal approve {ref}", chat=BOB)
    assert "member group" in await say(bot, ALICE, f"/appeal send {ref} fallback=en")
    return ref


async def odd_cases(bot: Harness) -> tuple[list[IncomingMessage], list[str]]:
    """Every answer the signing rules give, each at least once, for one crowd."""
    closed = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {closed}")
    await bot.advance(timedelta(days=17))  # past its deadline (2026-01-20): closed
    open_ref = await sent_appeal(bot)
    orgs_only = await sent_appeal(bot, "individuals=no")
    draft = await drafted(bot)
    await say(bot, SIGNERS[5], f"/sign {open_ref}")  # signed before the crowd
    return [
        message(bot, TWO_HATS, f"/sign {open_ref}"),  # several organisations, no name
        message(bot, TWO_HATS, f"/sign {open_ref} beta network"),
        message(bot, STRANGER, f"/sign {open_ref}"),  # a member of nothing
        message(bot, STRANGER, f"/sign {open_ref}", chat=UNREGISTERED),
        message(bot, SIGNERS[1], "/sign A-9999"),  # unknown
        message(bot, SIGNERS[2], f"/sign {draft}"),  # a draft answers as unknown
        message(bot, SIGNERS[3], f"/sign {closed}"),
        message(bot, SOLO, f"/sign {orgs_only}"),  # an individual, organisations only
        message(bot, SOLO, f"/sign {open_ref}"),
        message(bot, SIGNERS[4], "/sign"),  # usage
        message(bot, SIGNERS[5], f"/sign {open_ref}"),  # already
        message(bot, SIGNERS[6], f"/sign {open_ref.lower()}"),
        message(bot, STRANGER, choice=f"sign:{orgs_only}", chat=TIERRA_GROUP),
        message(bot, STRANGER, f"!sign {open_ref}", chat=GOMA_ROOM),
        message(bot, LUCIA, f"/sign {open_ref}"),  # Colectivo Tierra, already by its group
        message(bot, SIGNERS[7], f"/unsign {open_ref}"),  # not a signature: a turn
    ], [open_ref, orgs_only, closed, draft]


async def outcome(
    bot: Harness, crowd: Sequence[IncomingMessage], made: Sequence[str]
) -> tuple[object, ...]:
    """What the crowd left: every answer per chat and every signature (refs made alike)."""
    refs = {ref: f"A{n}" for n, ref in enumerate(made)}

    def alike(text: str) -> str:
        for ref, name in refs.items():
            text = text.replace(ref, name).replace(ref.lower(), name)
        return text

    chats = sorted({m.chat for m in crowd}, key=str)
    replies = {str(c): sorted(alike(t) for t in answers(bot, c)) for c in chats}
    signed = []
    for ref in made:
        signed += [
            (refs[ref], s.organisation, s.via_group) for s in await bot.db.appeals.signatures(ref)
        ]
    signed.sort()
    return replies, signed


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_batch_answers_and_stores_exactly_as_one_turn_each(
    bot: Harness, tmp_path: Path
) -> None:
    (tmp_path / "alone").mkdir()
    alone = await make_harness(tmp_path / "alone")
    try:
        alone.router.signing.take = lambda msg: None  # type: ignore[method-assign]
        results = []
        for harness in (bot, alone):
            await members(harness)
            crowd, made = await odd_cases(harness)
            if harness is bot:
                await together(harness, crowd)
            else:
                for m in crowd:  # one full turn each, one after the other
                    await together(harness, [m])
            results.append(await outcome(harness, crowd, made))
        assert bot.router.signing.settled >= 4, "the batch settled the ordinary ones"
        assert alone.router.signing.batches == 0
        assert results[0] == results[1]
    finally:
        await alone.close()


async def test_a_batch_that_fails_is_rolled_back_and_each_signs_alone(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await members(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    real = bot.db.signatures.sign_many

    async def fails_after_writing(requests: object) -> object:
        await real(requests)  # type: ignore[arg-type]
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(bot.db.signatures, "sign_many", fails_after_writing)
    caplog.set_level(logging.INFO)
    await together(bot, [message(bot, person, f"/sign {ref}") for person in SIGNERS[:10]])

    assert bot.router.signing.settled == 0
    signatures = await bot.db.appeals.signatures(ref)
    assert sorted(s.organisation for s in signatures) == [f"Org {n:02d}" for n in range(10)]
    for n, person in enumerate(SIGNERS[:10]):
        assert [a for a in answers(bot, person) if ref in a] == [
            f"Org {n:02d} signed {ref}. Thank you."
        ], "signed once by its own turn, confirmed once"
    assert "signature batch failed: RuntimeError" in caplog.text
    assert "Org 0" not in caplog.text and SIGNERS[0].id not in caplog.text
    assert (await bot.db.audit.verify()).ok


async def test_the_rate_limit_counts_a_batched_signature_once(bot: Harness) -> None:
    await members(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    bot.router.limiter.per_minute = 3  # [limits] messages_per_minute, after the set-up
    person = SIGNERS[0]
    await together(bot, [message(bot, person, f"/sign {ref}") for _ in range(4)])
    assert sorted(answers(bot, person)) == sorted(
        [
            f"Org 00 signed {ref}. Thank you.",
            f"Org 00 has already signed {ref}.",
            f"Org 00 has already signed {ref}.",
            "You are sending messages too fast. Please wait a minute.",
        ]
    )

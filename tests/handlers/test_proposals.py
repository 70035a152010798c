"""A member group's proposal becomes a sent appeal (issue 16, item 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.messages import Address, Attachment, AttachmentKind, Platform
from handlers.refs import parse_ref
from tests.handlers.test_appeals import LUCIA, STRANGER, TIERRA_GROUP, UNREGISTERED, say, seed
from tests.handlers.test_intake import ANA, full_report
from tests.harness.bot import (
    ALICE,
    BOB,
    TRIAGE,
    Harness,
    default_settings,
    make_harness,
)

PLAIN_TRIAGE = Address(Platform.TELEGRAM, "-1999")  # not end-to-end encrypted
IDEA = "A joint letter to the governor of Cauca about the eviction of Vereda Alta."


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = default_settings(advisory_rooms=(TRIAGE, PLAIN_TRIAGE))
    harness = await make_harness(tmp_path, settings)
    await seed(harness)
    yield harness
    await harness.close()


def ref_in(text: str, letter: str) -> str:
    found = next(parse_ref(w.strip(".,:")) for w in text.split() if w.startswith(f"{letter}-"))
    assert found
    return found


async def test_a_proposal_becomes_a_sent_appeal(network: Harness) -> None:
    bot = network
    answer = await say(bot, LUCIA, f"/propose {IDEA}", chat=TIERRA_GROUP)
    assert "reached the advisory group" in answer
    ref = ref_in(answer, "P")
    card = bot.matrix.last(TRIAGE).text
    assert ref in card and IDEA in card and "Colectivo Tierra" in card
    plain = bot.telegram.last(PLAIN_TRIAGE).text
    assert ref in plain and "not end-to-end encrypted" in plain
    assert IDEA not in plain and "Colectivo Tierra" not in plain, "no content in a plain room"

    bot.take_broadcasts()
    accepted = await say(bot, ALICE, f"/proposal accept {ref}")
    appeal = ref_in(accepted, "A")
    assert f"drafted from {ref}" in accepted
    draft = await bot.db.appeals.get(appeal)
    assert draft.texts == {"es": IDEA}, "pre-filled in the proposing group's language"
    assert bot.take_broadcasts() == 1, "the group is told"
    told = bot.telegram.last(TIERRA_GROUP).text
    assert ref in told and appeal in told and "aceptada" in told
    assert "already answered" in await say(bot, ALICE, f"/proposal accept {ref}")

    await say(bot, ALICE, f"/appeal text {appeal} en A joint letter about the eviction.")
    await say(bot, ALICE, f"/appeal deadline {appeal} 2026-01-20")
    await say(bot, ALICE, f"/appeal target {appeal} region=Americas")
    await say(bot, ALICE, f"/appeal approve {appeal}")
    await say(bot, BOB, f"/appeal approve {appeal}", chat=BOB)
    assert "being sent" in await say(bot, ALICE, f"/appeal send {appeal}")
    to_group = [o.text for o in bot.telegram.to(TIERRA_GROUP)]
    assert any(IDEA in text and f"/sign {appeal}" in text for text in to_group)
    assert any(ref in text and appeal in text and "enviado" in text for text in to_group)
    actions = [e.action for e in await bot.db.audit.entries(limit=1000)]
    assert "proposal.create" in actions and "proposal.accept" in actions


async def test_declined_with_a_reason_the_group_hears_it(network: Harness) -> None:
    bot = network
    ref = ref_in(await say(bot, LUCIA, f"/propose {IDEA}", chat=TIERRA_GROUP), "P")
    assert "Usage: /proposal decline" in await say(bot, ALICE, f"/proposal decline {ref}")
    assert (await bot.db.proposals.get(ref)).state == "new", "a refused decline changes nothing"
    bot.take_broadcasts()
    assert "the proposing group was told" in await say(
        bot, ALICE, f"/proposal decline {ref} We acted on this last week."
    )
    assert bot.take_broadcasts() == 1
    told = bot.telegram.last(TIERRA_GROUP).text
    assert "We acted on this last week." in told and "rechazada" in told
    assert "There is no proposal" in await say(bot, ALICE, "/proposal accept P-000000")


async def test_who_may_propose_and_which_case(network: Harness) -> None:
    bot = network
    assert "registered contact" in await say(bot, STRANGER, f"/propose {IDEA}", chat=TIERRA_GROUP)
    assert "registered group" in await say(bot, LUCIA, f"/propose {IDEA}", chat=UNREGISTERED)
    case = await full_report(bot, ANA, "en")
    refused = await say(bot, LUCIA, f"/propose {case} {IDEA}", chat=TIERRA_GROUP)
    assert "only a case you reported" in refused
    same = await say(bot, LUCIA, f"/propose C-000000 {IDEA}", chat=TIERRA_GROUP)
    assert same == refused, "an unknown case gets the same answer"
    assert "Usage: /propose" in await say(bot, LUCIA, "/propose", chat=TIERRA_GROUP)
    assert "for the advisory group" in await say(
        bot, LUCIA, "/proposal accept P-000000", chat=TIERRA_GROUP
    )
    tierra = await bot.db.members.organisation("Colectivo Tierra")
    assert tierra is not None
    await bot.db.members.add_contact(tierra.id, str(ANA))
    own = await say(bot, ANA, f"/propose {case} {IDEA}", chat=TIERRA_GROUP)
    proposal = await bot.db.proposals.get(ref_in(own, "P"))
    assert proposal.case_ref == case


async def test_a_proposal_with_a_file(network: Harness) -> None:
    bot = network
    letter = Attachment(
        AttachmentKind.DOCUMENT, "draft-letter.pdf", "application/pdf", 9, b"%PDF-1.4\n"
    )
    replies = await bot.send(LUCIA, "/propose", chat=TIERRA_GROUP, attachments=(letter,))
    ref = ref_in(replies[-1].text, "P")
    card = next(o for o in bot.matrix.to(TRIAGE) if ref in o.text)
    assert "Files: 1" in card.text
    sent = [o.file for o in bot.matrix.to(TRIAGE) if o.file]
    assert sent and sent[-1][0] == "draft-letter.pdf" and sent[-1][1] == b"%PDF-1.4\n"
    assert not any(o.file for o in bot.telegram.to(PLAIN_TRIAGE)), "no file in a plain room"
    assert await bot.db.proposals.files(ref) == [
        ("draft-letter.pdf", "application/pdf", b"%PDF-1.4\n")
    ]
    voice = Attachment(AttachmentKind.OTHER, "voice.ogg", "audio/ogg", 3, b"ogg")
    refused = await bot.send(LUCIA, f"/propose {IDEA}", chat=TIERRA_GROUP, attachments=(voice,))
    assert "photos and documents only" in refused[-1].text
    accepted = await say(bot, ALICE, f"/proposal accept {ref}")
    assert (await bot.db.appeals.get(ref_in(accepted, "A"))).texts == {}

"""Anonymised consent: names are compared folded, and every text bound for
member groups (appeal texts, updates, the export's letter) is checked."""

from __future__ import annotations

import pytest

from handlers.messages import Address, Platform
from handlers.textsafe import fold, mentions, names_in
from tests.handlers.test_appeals import drafted, ready_appeal, say, seed
from tests.handlers.test_intake import answer_the_rest, ref_in, report
from tests.harness.bot import ALICE, Harness

ANA = Address(Platform.TELEGRAM, "7401")


async def anonymised_case(bot: Harness, who: str) -> str:
    return await report(
        bot, ANA, "They came at night.", "Guatemala", who, consent="public_anonymised"
    )


@pytest.fixture
async def seeded(bot: Harness) -> Harness:
    await seed(bot)
    return bot


def test_folding() -> None:
    assert fold("PÉREZ") == fold("perez") == fold("Pérez") == fold("Pe\u0301rez")
    assert fold("Ｐérez") == "perez"  # NFKC: full-width letters
    assert mentions("Free PEREZ now", names_in("María Pérez")) == ["Pérez"]
    assert mentions("Free the collective", names_in("Ana and the collective")) == []


@pytest.mark.parametrize(
    ("who", "text", "named"),
    [
        ("Juan Pérez", "Free Perez now", "Pérez"),
        ("juan perez and his family", "Justice for Juan!", "juan"),
        ("María José", "Protect MARIA", "María"),
    ],
)
async def test_names_are_found_folded(seeded: Harness, who: str, text: str, named: str) -> None:
    case = await anonymised_case(seeded, who)
    ref = await drafted(seeded, case)
    refused = await say(seeded, ALICE, f"/appeal text {ref} en {text}")
    assert f"names {named}" in refused
    assert "saved" in await say(seeded, ALICE, f"/appeal text {ref} en Protect the defender.")


async def test_an_update_is_checked_like_the_appeal(seeded: Harness) -> None:
    case = await anonymised_case(seeded, "Juan Pérez")
    ref = await ready_appeal(seeded, case)
    assert "member groups" in await say(seeded, ALICE, f"/appeal send {ref}")
    seeded.take_broadcasts()
    refused = await say(seeded, ALICE, f"/appeal update {ref} Juan perez was released")
    assert "names Juan" in refused
    assert seeded.take_broadcasts() == 0
    fine = await say(seeded, ALICE, f"/appeal update {ref} The defender was released")
    assert "being sent" in fine
    assert seeded.take_broadcasts() == 3


async def test_an_update_after_withdrawal_is_refused(seeded: Harness) -> None:
    case = await anonymised_case(seeded, "the community")
    ref = await ready_appeal(seeded, case)
    await say(seeded, ALICE, f"/appeal send {ref}")
    seeded.take_broadcasts()
    await seeded.send(ANA, "/forget")
    await seeded.press(ANA, "forget:yes")
    refused = await say(seeded, ALICE, f"/appeal update {ref} News from the community")
    assert "no consent to a public appeal" in refused
    assert seeded.take_broadcasts() == 0


async def test_consent_given_later_covers_texts_written_before(seeded: Harness) -> None:
    """A text set while the case was advisory-only is checked again at send and export."""
    replies = await seeded.send(ANA, "/sos they are here")
    case = ref_in(next(o.text for o in replies if o.chat == ANA and "C-" in o.text))
    ref = await drafted(seeded, case)
    assert "saved" in await say(seeded, ALICE, f"/appeal text {ref} en Free Lucía Gómez.")
    await answer_the_rest(
        seeded, ANA, "Guatemala", "lucia gomez", urgency="immediate", consent="public_anonymised"
    )
    await seeded.press(ANA, "summary:confirm")
    before = len(seeded.matrix.sent)
    refused = await say(seeded, ALICE, f"/appeal export {ref}")
    assert "names" in refused
    assert not any(o.file for o in seeded.matrix.sent[before:])

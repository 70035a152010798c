"""Addressee, delivery and templates of an appeal (issue 16, item 4)."""

from __future__ import annotations

from tests.handlers.test_appeals import (
    GOMA_ROOM,
    LUCIA,
    TIERRA_GROUP,
    drafted,
    ready_appeal,
    say,
    seeded,
)
from tests.handlers.test_intake import ANA, full_report, report
from tests.harness.bot import ALICE, TRIAGE, Harness

__all__ = ["seeded"]


def appeal_ref(answer: str) -> str:
    return next(w.strip(".,") for w in answer.split() if w.startswith("A-"))


async def test_a_template_prefills_every_language_with_consented_fields(seeded: Harness) -> None:
    bot = seeded
    case = await full_report(bot, ANA, "en")  # anonymised consent; Ana is named in the report
    ref = appeal_ref(await say(bot, ALICE, f"/appeal new {case} template=urgent"))
    texts = (await bot.db.appeals.get(ref)).texts
    assert set(texts) == {"en", "es", "fr", "ar"}
    assert texts["en"].startswith("URGENT ACTION") and "Colombia, Popayán" in texts["en"]
    assert "the human rights defenders concerned" in texts["en"]
    assert all("Ana" not in text for text in texts.values()), "anonymised: no name"
    assert texts["es"].startswith("ACCIÓN URGENTE")
    assert "$" not in "".join(texts.values())
    plain = appeal_ref(await say(bot, ALICE, "/appeal new template=letter"))
    letter = (await bot.db.appeals.get(plain)).texts["fr"]
    assert letter.startswith("Chères amies") and "…" in letter
    assert "template=urgent|letter|statement" in await say(bot, ALICE, "/appeal new template=poem")


async def test_no_template_for_a_case_without_public_consent(seeded: Harness) -> None:
    bot = seeded
    await bot.send(ANA, "/start", hint="en")
    await bot.press(ANA, "lang:en")
    case = await report(bot, ANA, "Armed men came to our office.", "Popayán", "Ana Pérez")
    refused = await say(bot, ALICE, f"/appeal new {case} template=statement")
    assert "no consent to a public appeal" in refused
    assert "A-" not in refused, "no draft was made"


async def test_addressee_in_the_letter_and_delivery_told_to_signers(seeded: Harness) -> None:
    bot = seeded
    draft = await drafted(bot)
    assert "has not been sent" in await say(bot, ALICE, f"/appeal delivered {draft} by email")
    ref = await ready_appeal(bot)
    answer = await say(bot, ALICE, f'/appeal to {ref} "Minister of the Interior of Colombia"')
    assert answer == f"The letter of {ref} is addressed to: Minister of the Interior of Colombia"
    assert "Usage: /appeal to" in await say(bot, ALICE, f"/appeal to {ref}")
    await say(bot, ALICE, f"/appeal send {ref}")
    await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)  # Colectivo Tierra signs
    await say(bot, ALICE, f"/appeal export {ref}")
    files = {o.file[0]: o.file[1].decode() for o in bot.matrix.to(TRIAGE) if o.file}
    letter = files[f"{ref}-letter.txt"]
    assert letter.startswith("To: Minister of the Interior of Colombia\n")
    bot.take_broadcasts()
    told = await say(bot, ALICE, f"/appeal delivered {ref} by email to the ministry, 12 May")
    assert told == f"Delivery of {ref} recorded; 1 signing group is told."
    assert bot.take_broadcasts() == 1
    tierra = bot.telegram.last(TIERRA_GROUP).text
    assert "by email to the ministry, 12 May" in tierra and "entregada" in tierra
    assert not any("delivered" in o.text for o in bot.matrix.to(GOMA_ROOM)), "Goma did not sign"
    again = await say(bot, ALICE, f"/appeal delivered {ref} in person")
    assert again == f"The delivery of {ref} was already recorded."
    assert bot.take_broadcasts() == 0

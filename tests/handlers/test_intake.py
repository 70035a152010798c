"""The defender's guided report, driven through the real router and storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.i18n import FSI, render
from handlers.messages import Address, Attachment, AttachmentKind, Platform
from handlers.refs import parse_ref
from tests.harness.bot import TRIAGE, Harness, make_harness
from tests.harness.messenger import Outgoing

ANA = Address(Platform.TELEGRAM, "7001")

ANSWERS = {
    "en": ("Armed men came to our office in Cauca.", "Colombia, Popayán", "Ana and the collective"),
    "es": ("Hombres armados llegaron a la oficina.", "Colombia, Popayán", "Ana y el colectivo"),
    "fr": ("Des hommes armés sont venus au bureau.", "RDC, Goma", "Amani et l'association"),
    "ar": ("جاء مسلحون إلى مكتبنا.", "السودان، الخرطوم", "سلمى والجمعية"),
}


def ref_in(text: str) -> str:
    for word in text.replace(FSI, " ").replace("\u2069", " ").replace(".", " ").split():
        ref = parse_ref(word)
        if ref and word.upper().startswith("C-"):
            return ref
    raise AssertionError(f"no case reference in {text!r}")


async def answer_questions(
    bot: Harness, who: Address, what: str, where: str, at_risk: str, **answers: str
) -> list[Outgoing]:
    """``/report`` and an answer to every question (``answers``: as ``answer_the_rest``);
    the replies to the last answer, which end with the summary."""
    await bot.send(who, "/report")
    await bot.send(who, what)
    await bot.press(who, "what:done")
    return await answer_the_rest(bot, who, where, at_risk, **answers)


async def answer_the_rest(
    bot: Harness,
    who: Address,
    where: str,
    at_risk: str,
    *,
    urgency: str = "days",
    consent: str = "advisory_only",
    contact: str | None = None,
) -> list[Outgoing]:
    """The questions after what happened (as after ``/sos``, which asks "where" next),
    each answered (no contact: skipped); the replies to the last, which end with the
    summary."""
    await bot.send(who, where)
    await bot.send(who, at_risk)
    await bot.press(who, f"urgency:{urgency}")
    await bot.press(who, f"consent:{consent}")
    if contact is None:
        return await bot.press(who, "contact:skip")
    return await bot.send(who, contact)


async def report(
    bot: Harness, who: Address, what: str, where: str, at_risk: str, **answers: str
) -> str:
    """A whole report, answered (``answers``: as ``answer_questions``) and sent; its
    reference, from the receipt."""
    await answer_questions(bot, who, what, where, at_risk, **answers)
    replies = await bot.press(who, "summary:confirm")
    return ref_in(next(o.text for o in replies if o.chat == who and "C-" in o.text))


async def full_report(
    bot: Harness, who: Address, language: str, consent: str = "public_anonymised"
) -> str:
    """/start in ``language``, then a whole report in it; its reference."""
    await bot.send(who, "/start", hint=language)
    await bot.press(who, f"lang:{language}")
    return await report(bot, who, *ANSWERS[language], consent=consent)


@pytest.mark.parametrize("language", ["en", "es", "fr", "ar"])
async def test_whole_intake_in_each_language(bot: Harness, language: str) -> None:
    ref = await full_report(bot, ANA, language)
    # Every question reached the defender in their language.
    texts = [o.text for o in bot.telegram.to(ANA)]
    expected = render(language, "Where is this happening? Country and place.")
    assert expected in texts
    if language != "en":
        assert render("en", "Where is this happening? Country and place.") not in texts
    # The case is stored with every answer.
    case = await bot.db.cases.get(ref)
    what, where, at_risk = ANSWERS[language]
    assert (case.what, case.where, case.who) == (what, where, at_risk)
    assert (case.urgency, case.consent, case.channel) == ("days", "public_anonymised", "telegram")
    # The encrypted triage room got the card with the content.
    card = bot.matrix.to(TRIAGE)[-1].text
    assert ref in card and what in card and where in card


async def test_a_summary_answer_can_be_changed_before_sending(bot: Harness) -> None:
    await answer_questions(
        bot, ANA, "They threatened me.", "Guatemala", "me",
        urgency="immediate", contact="Signal after 8pm",
    )  # fmt: skip
    await bot.press(ANA, "summary:edit")
    await bot.press(ANA, "edit:where")
    summary = await bot.send(ANA, "Honduras, Tegucigalpa")
    assert "Honduras, Tegucigalpa" in summary[-1].text and summary[-1].options
    replies = await bot.press(ANA, "summary:confirm")
    case = await bot.db.cases.get(ref_in(replies[0].text))
    assert case.where == "Honduras, Tegucigalpa" and case.contact == "Signal after 8pm"


async def test_matrix_numbered_answers_by_number_or_word(bot: Harness) -> None:
    mx = Address(Platform.MATRIX, "@sara:localhost")
    await bot.send(mx, "!report")
    await bot.send(mx, "threats by phone")
    await bot.send(mx, "done")
    await bot.send(mx, "Tunis")
    await bot.send(mx, "me")
    await bot.send(mx, "2")  # "Within days"
    await bot.send(mx, "advisory group only")
    await bot.send(mx, "skip")
    replies = await bot.send(mx, "1")  # send the report
    case = await bot.db.cases.get(ref_in(replies[0].text))
    assert (case.urgency, case.consent, case.contact) == ("days", "advisory_only", "")


async def test_a_restart_mid_conversation_resumes_where_it_stopped(tmp_path: Path) -> None:
    first = await make_harness(tmp_path)
    await first.send(ANA, "/report")
    await first.send(ANA, "Our radio station was raided.")
    await first.press(ANA, "what:done")
    await first.send(ANA, "Honduras")
    await first.close()

    second = await make_harness(tmp_path)
    replies = await second.send(ANA, "The journalists of the station")
    assert replies[-1].text == render("en", "How urgent is it?")
    await second.press(ANA, "urgency:immediate")
    await second.press(ANA, "consent:trusted_partners")
    await second.press(ANA, "contact:skip")
    replies = await second.press(ANA, "summary:confirm")
    case = await second.db.cases.get(ref_in(replies[0].text))
    assert case.what == "Our radio station was raided." and case.where == "Honduras"
    await second.close()


async def test_sos_alerts_at_once_then_completes(bot: Harness) -> None:
    replies = await bot.send(ANA, "/sos they are at my door")
    card = bot.matrix.to(TRIAGE)[-1].text
    ref = ref_in(card)
    assert "SOS" in card and "they are at my door" in card
    assert any(ref in o.text for o in replies if o.chat == ANA)
    case = await bot.db.cases.get(ref)
    assert case.urgency == "immediate"
    await answer_the_rest(bot, ANA, "San Salvador", "me and my son", urgency="immediate")
    await bot.press(ANA, "summary:confirm")
    case = await bot.db.cases.get(ref)
    assert case.where == "San Salvador" and case.who == "me and my son"
    assert (
        len(await bot.db.cases.cases_of((await bot.db.accounts.get_or_create(str(ANA), None)).id))
        == 1
    )


async def test_forget_erases_report_and_tells_the_room(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ANA, "/forget")
    await bot.press(ANA, "forget:yes")
    case = await bot.db.cases.get(ref)
    assert not case.what and not case.where and not case.who and not case.contact and case.withdrawn
    assert "withdrawn" in bot.matrix.to(TRIAGE)[-1].text and ref in bot.matrix.to(TRIAGE)[-1].text
    # The private chat is left last, after the person was told (Matrix leaves the room).
    messenger = bot.messenger(ANA.platform)
    assert messenger.forgotten == [ANA]
    assert messenger.to(ANA)[-1].text == "Your data has been erased."
    told = messenger.sent[: messenger.sent_before_forgetting[0]]
    assert [o.text for o in told if o.chat == ANA][-1] == "Your data has been erased."
    assert (
        await bot.db.conversations.load((await bot.db.accounts.get_or_create(str(ANA), None)).id)
        is None
    )


async def test_bad_input_is_refused_and_nothing_is_stored(bot: Harness) -> None:
    await bot.send(ANA, "/report")
    huge = "x" * (bot.services.settings.max_text_chars + 1)
    replies = await bot.send(ANA, huge)
    assert "too long" in replies[-1].text
    voice = Attachment(AttachmentKind.OTHER, "", "", 0, b"")
    replies = await bot.send(ANA, attachments=(voice,))
    assert "text, photos and documents only" in replies[-1].text
    big = Attachment(AttachmentKind.DOCUMENT, "a.pdf", "application/pdf", 50_000_000, b"")
    replies = await bot.send(ANA, attachments=(big,))
    assert "too large" in replies[-1].text
    replies = await bot.press(ANA, "what:done")
    assert "write what is happening first" in replies[-1].text
    account = await bot.db.accounts.get_or_create(str(ANA), None)
    conversation = await bot.db.conversations.load(account.id)
    assert conversation is not None and conversation.data["draft"].get("what", []) == []
    assert conversation.data["draft"].get("attachments", []) == []


async def test_photos_and_documents_reach_the_case(bot: Harness) -> None:
    await bot.send(ANA, "/report")
    photo = Attachment(AttachmentKind.PHOTO, "photo.jpg", "image/jpeg", 4, b"\xff\xd8ab")
    await bot.send(ANA, "a photo of the note", attachments=(photo,))
    await bot.press(ANA, "what:done")
    for answer in ("Lima", "me"):
        await bot.send(ANA, answer)
    await bot.press(ANA, "urgency:weeks")
    await bot.press(ANA, "consent:advisory_only")
    await bot.press(ANA, "contact:skip")
    replies = await bot.press(ANA, "summary:confirm")
    case = await bot.db.cases.get(ref_in(replies[0].text))
    assert [a.filename for a in case.attachments] == ["photo.jpg"]
    assert await bot.db.cases.attachment_data(case.attachments[0].id) == b"\xff\xd8ab"
    files = [o for o in bot.matrix.to(TRIAGE) if o.file]
    assert files and files[-1].file == ("photo.jpg", b"\xff\xd8ab", "image/jpeg")


async def test_unencrypted_room_gets_metadata_only(tmp_path: Path) -> None:
    from tests.harness.bot import default_settings

    room = Address(Platform.TELEGRAM, "-100555")
    bot = await make_harness(tmp_path, default_settings(advisory_rooms=(room,)))
    ref = await full_report(bot, ANA, "en")
    card = bot.telegram.to(room)[-1].text
    assert ref in card and "Cauca" not in card and "Popayán" not in card
    assert not [o for o in bot.telegram.to(room) if o.file]
    await bot.close()


async def test_stale_button_is_refused(bot: Harness) -> None:
    await bot.send(ANA, "/report")
    replies = await bot.send(ANA, choice="urgency:immediate")
    assert "closed" in replies[0].text


async def test_status_and_update(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    replies = await bot.send(ANA, "/status")
    assert ref in replies[-1].text and "received" in replies[-1].text
    replies = await bot.send(ANA, f"/update {ref.lower()} they came back last night")
    assert "Added" in replies[0].text
    other = Address(Platform.TELEGRAM, "7999")
    replies = await bot.send(other, f"/update {ref} spoof")
    assert "no case" in replies[-1].text


async def test_cleanup_offer_deletes_conversation_messages_on_telegram(bot: Harness) -> None:
    await full_report(bot, ANA, "en")
    kept_before = len(bot.telegram.to(ANA))
    await bot.press(ANA, "cleanup:yes")
    remaining = [o.text for o in bot.telegram.to(ANA)]
    assert len(remaining) < kept_before
    assert not [t for t in remaining if "What is happening" in t or "Cauca" in t]
    assert [t for t in remaining if "Your case reference is" in t], "the receipt stays"
    assert "The messages were deleted from this chat." in remaining

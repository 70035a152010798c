"""The conversation record: typed, and read the same as it was stored
(the record tests need no database; the last one runs through the router)."""

from __future__ import annotations

from handlers import keys
from handlers.conversation.record import (
    AwaitedReply,
    CleanupOffer,
    Conversation,
    Draft,
    State,
    WhichCase,
)
from handlers.keys import Kind
from tests.handlers.test_intake import ANA, ref_in
from tests.harness.bot import Harness


def test_a_record_survives_its_round_trip() -> None:
    draft = Draft(what=["They came at night."], where="Goma", contact="", editing=True)
    for pending in (None, AwaitedReply("C-7K4QM2"), WhichCase("hi", ("C-1", "C-2"))):
        before = Conversation(State.CONTACT, draft, pending, "41")
        after = Conversation.from_record(before.state, before.to_json())
        assert after == before
    assert after.draft.contact == "" and after.draft.who is None  # skipped ≠ not yet asked


def test_records_of_the_earlier_dict_shape_resume() -> None:
    """Written before the typed record: a summary with the "choosing_edit" flag is EDIT."""
    data = {
        "pending": {"kind": "cleanup", "first": 12, "last": "19", "keep": "17"},
        "draft": {"what": ["a"], "urgency": "days", "choosing_edit": True},
        "first_message_id": "12",
    }
    conversation = Conversation.from_record("summary", data)
    assert conversation.state is State.EDIT
    assert conversation.draft == Draft(what=["a"], urgency="days")
    # An offer written before every message went through the outbox names message
    # ids, not outbox rows: it lapses (deleting by guessed ids could hit the receipt).
    assert conversation.pending is None
    offer = {"kind": "cleanup", "first": 12, "offer_row": "19", "receipt_row": "17"}
    resumed = Conversation.from_record("idle", {"pending": offer})
    assert resumed.pending == CleanupOffer("12", "19", "17")
    assert Conversation.from_record("idle", {"pending": {"kind": "gone"}}).pending is None


def test_one_helper_makes_and_reads_button_keys() -> None:
    key = keys.make(Kind.SIGN, "A-9TXW3B")
    assert key == "sign:A-9TXW3B"
    assert keys.value_of(key, Kind.SIGN) == "A-9TXW3B"
    assert keys.value_of(key, Kind.CASE) is None
    assert keys.value_of(keys.make(State.URGENCY, "days"), State.URGENCY) == "days"
    assert keys.value_of("no-kind", Kind.SIGN) is None and keys.value_of(None, Kind.SIGN) is None


async def test_a_draft_stored_in_the_earlier_shape_resumes_through_the_router(
    bot: Harness,
) -> None:
    """A draft saved before the upgrade, mid-edit: the defender picks the answer
    to change, answers it, and is back at the summary with the rest kept."""
    await bot.send(ANA, "/start")  # the account
    account = await bot.db.accounts.find(str(ANA))
    assert account is not None
    draft = {
        "what": ["Armed men came."],
        "where": "Goma",
        "who": "Amani",
        "urgency": "days",
        "consent": "advisory_only",
        "contact": "",
        "choosing_edit": True,
    }
    await bot.db.conversations.save(account.id, "summary", {"pending": None, "draft": draft})
    replies = await bot.send(ANA, "/report")  # resumes where it stopped
    assert replies[-1].text == "Which answer do you want to change?"
    await bot.press(ANA, "edit:where")
    replies = await bot.send(ANA, "Bukavu")
    summary = replies[-1].text
    assert "Where: Bukavu" in summary and "Armed men came." in summary
    assert [o.key for o in replies[-1].options] == [
        "summary:confirm",
        "summary:edit",
        "summary:cancel",
    ]
    replies = await bot.press(ANA, "summary:confirm")
    case = await bot.db.cases.get(ref_in(next(o.text for o in replies if "C-" in o.text)))
    assert (case.where, case.who, case.urgency) == ("Bukavu", "Amani", "days")

"""Every state of the defender conversation, and every open question, in two
tables: the function that takes the defender's next message in each.

``on_message`` gets each non-command message of a private chat. An open
question (``QUESTIONS``) is answered first, whatever the state; otherwise
the state's entry in ``STATES`` takes the message. The diagram is in
``handlers/conversation/__init__.py``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

from handlers import cards, checkins, consent, keys, relay, report_limit, resources, rooms
from handlers.conversation import after_ask, country, steps
from handlers.conversation.record import (
    AwaitedReply,
    CleanupOffer,
    Conversation,
    Draft,
    ForgetQuestion,
    LanguageQuestion,
    Pending,
    State,
    WhichCase,
    erase,
    load,
    save,
)
from handlers.i18n import LANGUAGES, N_
from handlers.keys import Kind
from handlers.messages import Option, Platform
from handlers.outgoing import Kind as Outgoing
from handlers.refs import RefKind, new_ref
from handlers.turn import Turn, resolve_choice
from storage.errors import Conflict
from storage.records import CaseState, Consent, DeadlineKind, Urgency

CARD_PATIENCE = timedelta(minutes=2)
"""If no advisory room has the card by then, the defender is told the truth."""
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "ar": "العربية"}

Answer = Callable[[Turn, Conversation], Awaitable[bool]]
"""Takes the message; False when it was not for this state or question."""


async def on_message(turn: Turn) -> bool:
    """A non-command message in a private chat; False if nothing here wanted it."""
    # Issue 15 first: a check-in's answer (or its duress word), a topic of
    # /resources, a consent or appeal-review button. Each takes only its own.
    if await checkins.on_message(turn):
        return True
    if await resources.on_choice(turn) or await consent.on_choice(turn):
        return True
    conversation = await load(turn.services, turn.account.id)
    pending = conversation.pending
    if pending and await QUESTIONS[pending.KIND](turn, conversation):
        return True
    if keys.value_of(turn.msg.choice, Kind.LANGUAGE):  # a language button of an older question
        return await answer_language(turn, conversation)
    return await STATES[conversation.state](turn, conversation)


async def store(turn: Turn, conversation: Conversation) -> None:
    await save(turn.services, turn.account.id, conversation)


async def close_question(turn: Turn, conversation: Conversation) -> None:
    conversation.pending = None
    await store(turn, conversation)


def choice_of(turn: Turn, options: list[Option], kind: str) -> str | None:
    """The value of the option the person chose (button, number or word), if any."""
    return keys.value_of(resolve_choice(turn.msg, options), kind)


async def go(turn: Turn, conversation: Conversation, state: State) -> None:
    """Move to ``state`` and ask its question."""
    if state is State.SUMMARY:
        conversation.draft.editing = False
    conversation.state = state
    await store(turn, conversation)
    await steps.ask(turn, conversation)


# -- the states -----------------------------------------------------------------


async def answer_idle(turn: Turn, conversation: Conversation) -> bool:
    """No report open: a free message goes to the defender's open case."""
    text = turn.msg.text.strip()
    if not text:
        return False
    cases = [
        c
        for c in await turn.services.db.cases.cases_of(turn.account.id)
        if c.state != CaseState.CLOSED
    ]
    if not cases:
        return False
    if len(text) > turn.services.settings.max_text_chars:
        await turn.say(turn.t("That message is too long. Nothing was saved."))
        return True
    if len(cases) == 1:
        await relay.forward(turn, cases[0].ref, text)
        return True
    question = WhichCase(text, tuple(c.ref for c in cases))
    await turn.ask(turn.t("Which case is this about?"), case_options(question))
    conversation.pending = question
    await store(turn, conversation)
    return True


async def answer_step(turn: Turn, conversation: Conversation) -> bool:
    """One of the report's questions (``steps.STEPS``)."""
    current = conversation.state
    if turn.msg.choice and keys.value_of(turn.msg.choice, current) is None:
        await turn.say(turn.t("That question is closed. Here is the current one."))
        await steps.ask(turn, conversation)
        return True
    # A deep copy (as stored): the draft's lists are changed in place by the step.
    before = json.dumps(conversation.to_json(), sort_keys=True)
    following = await steps.answer(turn, current, conversation.draft)
    if following is None:
        # Stay: store what the answer added (text or files of the first step);
        # a refused answer added nothing, and rewriting the record would still
        # change the database (a fresh nonce): it is left alone.
        if json.dumps(conversation.to_json(), sort_keys=True) != before:
            await store(turn, conversation)
    else:
        await go(turn, conversation, following)
    return True


async def answer_summary(turn: Turn, conversation: Conversation) -> bool:
    chosen = choice_of(turn, steps.summary_options(turn), Kind.SUMMARY)
    if chosen == "confirm":
        await confirm(turn, conversation)
    elif chosen == "edit":
        conversation.state = State.EDIT
        await store(turn, conversation)
        await steps.ask(turn, conversation)
    elif chosen == "cancel":
        await erase(turn.services, turn.account.id)
        await turn.say(turn.t("Your draft was erased. Nothing was sent."))
    else:
        await turn.say(turn.t("Please choose one of the options."))
        await steps.ask(turn, conversation)
    return True


async def answer_edit(turn: Turn, conversation: Conversation) -> bool:
    """Which answer to change: that step, then back to the summary."""
    chosen = choice_of(turn, steps.edit_options(turn), Kind.EDIT)
    if chosen is None:
        await steps.ask(turn, conversation)
        return True
    draft = conversation.draft
    draft.editing = True
    target = State(chosen)
    if target is State.WHAT:
        draft.what, draft.attachments = [], []
    conversation.state = target
    await store(turn, conversation)
    await steps.ask(turn, conversation)
    return True


STATES: dict[State, Answer] = {
    State.IDLE: answer_idle,
    **{state: answer_step for state in steps.STEPS},
    State.SUMMARY: answer_summary,
    State.EDIT: answer_edit,
}


# -- the open questions -----------------------------------------------------------


def language_options() -> list[Option]:
    return [keys.option(Kind.LANGUAGE, code, LANGUAGE_NAMES[code]) for code in LANGUAGES]


def forget_options(turn: Turn) -> list[Option]:
    return [
        keys.option(Kind.FORGET, "yes", turn.t("Yes, erase my data")),
        keys.option(Kind.FORGET, "no", turn.t("No, keep it")),
    ]


def cleanup_options(turn: Turn) -> list[Option]:
    return [
        keys.option(Kind.CLEANUP, "yes", turn.t("Delete the messages")),
        keys.option(Kind.CLEANUP, "no", turn.t("Keep them")),
    ]


def case_options(pending: WhichCase) -> list[Option]:
    return [keys.option(Kind.CASE, ref, ref) for ref in pending.refs]


async def ask_question(turn: Turn, conversation: Conversation, question: Pending) -> None:
    """Open ``question`` (language or forget), keeping the draft as it is."""
    conversation.pending = question
    await store(turn, conversation)
    if isinstance(question, LanguageQuestion):
        await turn.ask(turn.t("Choose your language:"), language_options())
    else:
        await turn.ask(
            turn.t(
                "This erases your reports, files, contact details and any draft. The advisory "
                "group keeps only the case reference, dates and state. Are you sure?"
            ),
            forget_options(turn),
        )


async def answered(
    turn: Turn, conversation: Conversation, options: list[Option], kind: str
) -> str | None:
    """The value of the option chosen, with the question closed; None (and the
    question left open) when the message is not one of the options."""
    value = choice_of(turn, options, kind)
    if value is not None:
        await close_question(turn, conversation)
    return value


async def answer_language(turn: Turn, conversation: Conversation) -> bool:
    code = await answered(turn, conversation, language_options(), Kind.LANGUAGE)
    if code is None:
        return False
    await turn.services.db.accounts.set_language(turn.account.id, code)
    turn.language = code
    await turn.say(turn.t("I will write to you in English from now on."))
    return True


async def answer_forget(turn: Turn, conversation: Conversation) -> bool:
    chosen = await answered(turn, conversation, forget_options(turn), Kind.FORGET)
    if chosen is None:
        return False
    if chosen == "no":
        await turn.say(turn.t("Nothing was erased."))
        return True
    refs = await turn.services.db.cases.forget_reporter(turn.account.id)
    await erase(turn.services, turn.account.id)
    for ref in refs:
        await rooms.notice(
            turn.services,
            N_("Case {ref} was withdrawn by the defender; its content is erased."),
            ref=ref,
        )
    await turn.say(turn.t("Your data has been erased."))
    # Queued behind the message above (a chat's rows go in order): told, then left.
    await turn.services.post.leave(turn.chat, turn.msg.sender)
    return True


async def answer_which_case(turn: Turn, conversation: Conversation) -> bool:
    pending = conversation.pending
    assert isinstance(pending, WhichCase)
    ref = await answered(turn, conversation, case_options(pending), Kind.CASE)
    if ref is not None:
        await relay.forward(turn, ref, pending.text)
    return ref is not None


async def answer_cleanup(turn: Turn, conversation: Conversation) -> bool:
    offer = conversation.pending
    assert isinstance(offer, CleanupOffer)
    chosen = await answered(turn, conversation, cleanup_options(turn), Kind.CLEANUP)
    if chosen is None:
        return False
    if chosen == "yes":
        numbers = await report_messages(turn, offer)
        if numbers:
            await turn.services.post.delete_messages(turn.chat, [str(n) for n in numbers])
        await turn.say(turn.t("The messages were deleted from this chat."))
    else:
        await turn.say(turn.t("The messages were kept."))
    return True


async def report_messages(turn: Turn, offer: CleanupOffer) -> list[int]:
    """The report's messages: ids from its first message to the clean-up offer,
    except the receipt with the reference (the bot's ids are known once sent)."""
    rows = [int(offer.offer_row), int(offer.receipt_row)]
    sent = await turn.services.db.outbox.remote_ids(rows)
    last, keep = sent.get(rows[0]), sent.get(rows[1])
    if last is None or not last.isdigit() or not offer.first.isdigit():
        return []
    return [n for n in range(int(offer.first), int(last) + 1) if str(n) != keep]


QUESTIONS: dict[str, Answer] = {
    LanguageQuestion.KIND: answer_language,
    ForgetQuestion.KIND: answer_forget,
    AwaitedReply.KIND: after_ask.answer,
    WhichCase.KIND: answer_which_case,
    CleanupOffer.KIND: answer_cleanup,
}


# -- the report sent --------------------------------------------------------------


async def create_case(turn: Turn, draft: Draft) -> str:
    urgency = draft.urgency or Urgency.IMMEDIATE
    for _ in range(8):
        ref = new_ref(RefKind.CASE)
        try:
            await turn.services.db.cases.create(
                ref=ref,
                reporter_account_id=turn.account.id,
                urgency=urgency,
                consent=draft.consent or Consent.ADVISORY_ONLY,
                channel=turn.msg.chat.platform.value,
                what="\n\n".join(draft.what),
                where=draft.where or "",
                who=draft.who or "",
                contact=draft.contact or "",
                attachments=draft.files(),
            )
        except Conflict:
            continue
        now = turn.services.clock.now()
        due = now + turn.services.settings.escalation_after[urgency]
        # In the turn's unit of work: a committed case always has its deadlines.
        await turn.services.db.deadlines.schedule(DeadlineKind.ESCALATION, ref, due)
        await turn.services.db.deadlines.schedule(DeadlineKind.CARD_CHECK, ref, now + CARD_PATIENCE)
        return ref
    raise RuntimeError("could not allocate a case reference")


async def promise_alerted(turn: Turn, ref: str) -> None:
    """ "The advisory group has been alerted", held in the outbox until an advisory
    room has accepted the card (``deadlines.card_check`` tells the truth meanwhile)."""
    await turn.services.post.send_text(
        turn.chat,
        turn.t("The advisory group has been alerted about {ref}.", ref=ref),
        kind=Outgoing.CONFIRM,
        ref=ref,
        language=turn.language,
        held=True,
    )


async def confirm(turn: Turn, conversation: Conversation) -> None:
    draft = conversation.draft
    ref = draft.sos_ref
    if ref:
        await turn.services.db.cases.complete_details(
            ref,
            where=draft.where or "",
            who=draft.who or "",
            consent=draft.consent or Consent.ADVISORY_ONLY,
            contact=draft.contact or "",
            what="\n\n".join(draft.what),
            attachments=draft.files(),
        )
        if await country.tag_country(turn, ref, draft):  # the SOS card was posted without it
            tags = (await turn.services.db.casefile.get(ref)).tags
            await cards.tags_changed(turn.services, ref, tags, skip=None)
        await rooms.notice(
            turn.services,
            N_("The defender completed the SOS report {ref}. /case {ref} shows it."),
            ref=ref,
        )
    elif (over := await report_limit.case_to_update(turn)) is not None:
        ref = over  # over reports_per_day: the report is added to the latest open case
        await report_limit.add_report(turn, ref, draft)
    else:
        over = None
        ref = await create_case(turn, draft)
        await country.tag_country(turn, ref, draft)  # before the card, which shows it
        await cards.post_case_card(turn.services, ref)
    receipt = await turn.say(
        turn.t(
            "Your report is saved. Your case reference is {ref}. The advisory group "
            "will contact you here. /status shows where it stands; /update {ref} adds "
            "information.",
            ref=ref,
        )
    )
    if not draft.sos_ref and over is None:  # an update of an open case promises no new alert
        await promise_alerted(turn, ref)
    done = Conversation()
    first = conversation.first_message_id
    if turn.msg.chat.platform is Platform.TELEGRAM and first is not None:
        offer = await turn.ask(
            turn.t(
                "Your report is stored encrypted. Telegram does not encrypt chats with bots end "
                "to end, so you may want to delete this conversation's messages from this chat. "
                "Delete them now?"
            ),
            cleanup_options(turn),
        )
        # Telegram numbers a private chat's messages, both sides, in one
        # increasing sequence: the report's messages are the ids from the
        # report's first message to this offer. The receipt stays.
        done.pending = CleanupOffer(first, str(offer.row_id), str(receipt.row_id))
        await turn.say(
            turn.t("For end-to-end encryption you can also reach the network on Matrix.")
        )
    await store(turn, done)

"""What a defender can do in a private chat with the bot (SPEC §3).

The conversation's steps live in handlers/intake.py; this module holds the
commands and the moments around the report: receipt, SOS, status,
updates, withdrawal. The conversation record holds the draft (``draft``,
with its step in ``state``) and at most one open question (``pending``:
language, forget confirmation, clean-up offer, which case).
"""

from __future__ import annotations

import logging
from typing import Any

from handlers import cards, conversation, intake, news, relay
from handlers.i18n import LANGUAGES, N_
from handlers.intake import State
from handlers.messages import Option, Platform
from handlers.refs import RefKind, new_ref
from handlers.turn import Turn, resolve_choice
from storage.errors import Conflict, NotFound

log = logging.getLogger(__name__)

IDLE = "idle"
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "ar": "العربية"}
PUBLIC_STATES = {
    "new": N_("received"),
    "triage": N_("under review"),
    "verifying": N_("under review"),
    "action": N_("action under way"),
    "monitoring": N_("action under way"),
    "closed": N_("closed"),
}


# -- the conversation record ------------------------------------------------


async def load(turn: Turn) -> tuple[str, dict[str, Any]]:
    conversation = await turn.services.db.conversations.load(turn.account.id)
    if conversation is None:
        return IDLE, {}
    return conversation.state, dict(conversation.data)


async def save(turn: Turn, state: str, data: dict[str, Any]) -> None:
    if state == IDLE and not data.get("pending"):
        await turn.services.db.conversations.delete(turn.account.id)
    else:
        await turn.services.db.conversations.save(turn.account.id, state, data)


# -- commands -----------------------------------------------------------------


def language_options() -> list[Option]:
    return [Option(f"lang:{code}", LANGUAGE_NAMES[code]) for code in LANGUAGES]


async def start(turn: Turn) -> None:
    state, data = await load(turn)
    await turn.say(
        turn.t(
            "Hello. This bot connects you with the network's advisory group when you or "
            "someone you work with is in danger. What you send is stored encrypted and "
            "read only by the advisory group."
        )
    )
    data["pending"] = {"kind": "language"}
    await save(turn, state, data)
    await turn.ask(turn.t("Choose your language:"), language_options())
    await help_(turn)


async def help_(turn: Turn) -> None:
    await turn.say(
        "\n".join(
            [
                turn.t("What you can do:"),
                turn.t("/report — report a threat, step by step"),
                turn.t("/sos — alert the advisory group at once"),
                turn.t("/update C-… — add information to your case"),
                turn.t("/status — see the state of your cases"),
                turn.t("/consent C-… — see or change who may learn of your case"),
                turn.t("/checkin every 6h for 3d — safety check-ins (/checkin stop ends them)"),
                turn.t("/resources — security, legal and other help"),
                turn.t("/language — change the language"),
                turn.t("/cancel — stop the report you are writing"),
                turn.t("/forget — erase your data"),
            ]
        )
    )


async def language(turn: Turn) -> None:
    state, data = await load(turn)
    data["pending"] = {"kind": "language"}
    await save(turn, state, data)
    await turn.ask(turn.t("Choose your language:"), language_options())


async def report(turn: Turn) -> None:
    state, data = await load(turn)
    if state != IDLE:
        await turn.say(turn.t("You have a report in progress. Let us continue where you stopped."))
        await _resume(turn, State(state), data)
        return
    data = {"pending": None, "draft": {}, "first_message_id": turn.msg.message_id}
    await save(turn, State.WHAT, data)
    await turn.say(
        turn.t("You can change any answer before sending. /cancel stops and erases the draft.")
    )
    await intake.ask_step(turn, State.WHAT)


async def cancel(turn: Turn) -> None:
    state, _ = await load(turn)
    await turn.services.db.conversations.delete(turn.account.id)
    if state == IDLE:
        await turn.say(turn.t("There is nothing to cancel."))
    else:
        await turn.say(turn.t("Your draft was erased. Nothing was sent."))


async def sos(turn: Turn, text: str | None) -> None:
    """Alert the advisory group at once with whatever is written so far."""
    state, data = await load(turn)
    draft: dict[str, Any] = data.get("draft", {}) if state != IDLE else {}
    if draft.get("sos_ref"):
        await turn.say(
            turn.t("The advisory group has already been alerted for {ref}.", ref=draft["sos_ref"])
        )
        return
    if text:
        draft.setdefault("what", []).append(text)
    draft["urgency"] = "immediate"
    draft.setdefault("consent", "advisory_only")
    ref = await _create_case(turn, draft)
    await cards.post_case_card(turn.services, ref, sos=True)
    draft["sos_ref"] = ref
    data = {**data, "draft": draft, "pending": None}
    data.setdefault("first_message_id", turn.msg.message_id)
    await turn.say(
        turn.t(
            "The advisory group has been alerted. Your case reference is {ref}. "
            "If you can, answer a few more questions so that they can help you better.",
            ref=ref,
        )
    )
    next_state = State.WHAT if not draft.get("what") else State.WHERE
    await save(turn, next_state, data)
    await intake.ask_step(turn, next_state)


async def status(turn: Turn) -> None:
    cases = await turn.services.db.cases.cases_of(turn.account.id)
    if not cases:
        await turn.say(turn.t("You have no cases. /report starts a report."))
        return
    lines = [turn.t("Your cases:")]
    for case in cases:
        lines.append(
            turn.t(
                "{ref}: {state} (since {date})",
                ref=case.ref,
                state=turn.t(PUBLIC_STATES.get(case.state, N_("under review"))),
                date=case.created_at.strftime("%Y-%m-%d"),
            )
        )
        lines.extend(await news.status_lines(turn.services, turn.language, case.ref))
    await turn.say("\n".join(lines))


async def update(turn: Turn, ref: str, text: str | None) -> None:
    if not text and not turn.msg.attachments:
        await turn.say(
            turn.t("Write the new information after the reference: /update {ref} …", ref=ref)
        )
        return
    own = {case.ref for case in await turn.services.db.cases.cases_of(turn.account.id)}
    if ref not in own:
        # The same answer whether the case does not exist or is someone else's.
        await turn.say(turn.t("You have no case {ref}. /status lists your cases.", ref=ref))
        return
    if text and len(text) > turn.services.settings.max_text_chars:
        await turn.say(intake._too_long(turn))
        return
    problem = conversation.file_problem(turn)
    if problem:
        await turn.say(problem)
        return
    if not await news.reopen_for_update(turn, ref):
        return
    files = [cards.draft_attachment(a) for a in turn.msg.attachments]
    event = await turn.services.db.cases.add_update(
        ref, turn.account.id, text or "", cards.attachments_from_draft({"attachments": files})
    )
    await turn.say(turn.t("Added to {ref}. The advisory group has been told.", ref=ref))
    await cards.tell_rooms(
        turn.services, N_("The defender added information to {ref}. /case {ref} shows it."), ref=ref
    )
    await conversation.files_to_rooms(turn, ref, event.attachments)


async def forget(turn: Turn) -> None:
    state, data = await load(turn)
    data["pending"] = {"kind": "forget"}
    await save(turn, state, data)
    await turn.ask(
        turn.t(
            "This erases your reports, files, contact details and any draft. The advisory "
            "group keeps only the case reference, dates and state. Are you sure?"
        ),
        [
            Option("forget:yes", turn.t("Yes, erase my data")),
            Option("forget:no", turn.t("No, keep it")),
        ],
    )


# -- answers to questions -----------------------------------------------------


async def on_message(turn: Turn) -> bool:
    """A non-command message in a private chat; False if nothing here wanted it."""
    state, data = await load(turn)
    pending = data.get("pending")
    if pending and await _answer_pending(turn, state, data, pending):
        return True
    if turn.msg.choice and turn.msg.choice.startswith("lang:"):
        return await _answer_pending(turn, state, data, {"kind": "language"})
    if state == IDLE:
        handled = await relay.from_defender(turn, data)
        if data.get("pending"):
            await save(turn, IDLE, data)
        return handled
    if state == State.SUMMARY:
        await _answer_summary(turn, data)
        return True
    current = State(state)
    if turn.msg.choice and not turn.msg.choice.startswith(f"{current}:"):
        await turn.say(turn.t("That question is closed. Here is the current one."))
        await _resume(turn, current, data)
        return True
    draft = data.setdefault("draft", {})
    next_state = await intake.answer_step(turn, current, draft)
    if next_state is None:
        await save(turn, current, data)
        return True
    await _go(turn, next_state, data)
    return True


async def _go(turn: Turn, state: State, data: dict[str, Any]) -> None:
    if state == State.SUMMARY:
        data["draft"].pop("editing", None)
    await save(turn, state, data)
    await _resume(turn, state, data)


async def _resume(turn: Turn, state: State, data: dict[str, Any]) -> None:
    if state == State.SUMMARY:
        await turn.ask(
            intake.summary_text(turn, data.get("draft", {})), intake.summary_options(turn)
        )
    else:
        await intake.ask_step(turn, state)


async def _answer_summary(turn: Turn, data: dict[str, Any]) -> None:
    draft = data.setdefault("draft", {})
    if draft.get("choosing_edit"):
        key = resolve_choice(turn.msg, intake.edit_options(turn))
        if key is None:
            await turn.ask(turn.t("Which answer do you want to change?"), intake.edit_options(turn))
            return
        draft.pop("choosing_edit")
        draft["editing"] = True
        target = State(key.split(":", 1)[1])
        if target == State.WHAT:
            draft["what"], draft["attachments"] = [], []
        await save(turn, target, data)
        await intake.ask_step(turn, target)
        return
    key = resolve_choice(turn.msg, intake.summary_options(turn))
    if key == "summary:confirm":
        await _confirm(turn, data)
    elif key == "summary:edit":
        draft["choosing_edit"] = True
        await save(turn, State.SUMMARY, data)
        await turn.ask(turn.t("Which answer do you want to change?"), intake.edit_options(turn))
    elif key == "summary:cancel":
        await turn.services.db.conversations.delete(turn.account.id)
        await turn.say(turn.t("Your draft was erased. Nothing was sent."))
    else:
        await turn.say(turn.t("Please choose one of the options."))
        await _resume(turn, State.SUMMARY, data)


async def _create_case(turn: Turn, draft: dict[str, Any]) -> str:
    for _ in range(8):
        ref = new_ref(RefKind.CASE)
        try:
            await turn.services.db.cases.create(
                ref=ref,
                reporter_account_id=turn.account.id,
                urgency=draft.get("urgency", "immediate"),
                consent=draft.get("consent", "advisory_only"),
                channel=turn.msg.chat.platform.value,
                what="\n\n".join(draft.get("what", [])),
                where=draft.get("where", ""),
                who=draft.get("who", ""),
                contact=draft.get("contact", ""),
                attachments=cards.attachments_from_draft(draft),
            )
        except Conflict:
            continue
        settings = turn.services.settings
        due = (
            turn.services.clock.now() + settings.escalation_after[draft.get("urgency", "immediate")]
        )
        await turn.services.db.deadlines.schedule("escalation", ref, due)
        return ref
    raise RuntimeError("could not allocate a case reference")


async def _confirm(turn: Turn, data: dict[str, Any]) -> None:
    draft = data["draft"]
    ref = draft.get("sos_ref")
    if ref:
        await turn.services.db.cases.complete_details(
            ref,
            where=draft.get("where", ""),
            who=draft.get("who", ""),
            consent=draft.get("consent", "advisory_only"),
            contact=draft.get("contact", ""),
            what="\n\n".join(draft.get("what", [])),
            attachments=cards.attachments_from_draft(draft),
        )
        await cards.tell_rooms(
            turn.services,
            N_("The defender completed the SOS report {ref}. /case {ref} shows it."),
            ref=ref,
        )
    else:
        ref = await _create_case(turn, draft)
        await cards.post_case_card(turn.services, ref)
    receipt = await turn.say(
        turn.t(
            "Your report was received. Your case reference is {ref}. The advisory group "
            "will contact you here. /status shows where it stands; /update {ref} adds "
            "information.",
            ref=ref,
        )
    )
    first = data.get("first_message_id")
    data = {"pending": None}
    if turn.msg.chat.platform is Platform.TELEGRAM and first is not None:
        offer = await turn.ask(
            turn.t(
                "Your report is stored encrypted. Telegram does not encrypt chats with bots end "
                "to end, so you may want to delete this conversation's messages from this chat. "
                "Delete them now?"
            ),
            [
                Option("cleanup:yes", turn.t("Delete the messages")),
                Option("cleanup:no", turn.t("Keep them")),
            ],
        )
        # Telegram numbers a private chat's messages, both sides, in one
        # increasing sequence: the report's messages are the ids from the
        # report's first message to this offer. The receipt stays.
        data["pending"] = {
            "kind": "cleanup",
            "first": first,
            "last": offer.message_id,
            "keep": receipt.message_id,
        }
        await turn.say(
            turn.t("For end-to-end encryption you can also reach the network on Matrix.")
        )
    await save(turn, IDLE, data)


async def _answer_pending(
    turn: Turn, state: str, data: dict[str, Any], pending: dict[str, Any]
) -> bool:
    kind = pending["kind"]
    if kind == "language":
        key = resolve_choice(turn.msg, language_options())
        if key is None:
            return False
        data["pending"] = None
        await save(turn, state, data)
        code = key.split(":", 1)[1]
        await turn.services.db.accounts.set_language(turn.account.id, code)
        turn.language = code
        await turn.say(turn.t("I will write to you in English from now on."))
        return True
    if kind == "forget":
        key = resolve_choice(
            turn.msg,
            [
                Option("forget:yes", turn.t("Yes, erase my data")),
                Option("forget:no", turn.t("No, keep it")),
            ],
        )
        if key is None:
            return False
        if key == "forget:no":
            data["pending"] = None
            await save(turn, state, data)
            await turn.say(turn.t("Nothing was erased."))
            return True
        refs = await turn.services.db.cases.forget_reporter(turn.account.id)
        await turn.services.db.conversations.delete(turn.account.id)
        for ref in refs:
            await cards.tell_rooms(
                turn.services,
                N_("Case {ref} was withdrawn by the defender; its content is erased."),
                ref=ref,
            )
        await turn.say(turn.t("Your data has been erased."))
        return True
    if kind == "reply":  # after /ask: handlers/conversation.py
        return await conversation.answer(
            turn, state, data, pending, lambda: _resume(turn, State(state), data)
        )
    if kind == "which_case":
        if not await relay.answer_which_case(turn, pending):
            return False
        data["pending"] = None
        await save(turn, state, data)
        return True
    if kind == "cleanup":
        key = resolve_choice(turn.msg, [Option("cleanup:yes", "yes"), Option("cleanup:no", "no")])
        if key is None:
            return False
        data["pending"] = None
        await save(turn, state, data)
        if key == "cleanup:yes":
            for number in range(int(pending["first"]), int(pending["last"]) + 1):
                if str(number) != pending["keep"]:
                    await turn.messenger.delete_message(turn.chat, str(number))
            await turn.say(turn.t("The messages were deleted from this chat."))
        else:
            await turn.say(turn.t("The messages were kept."))
        return True
    return False


def is_not_found(exc: Exception) -> bool:
    return isinstance(exc, NotFound)

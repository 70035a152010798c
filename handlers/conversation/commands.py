"""The defender's commands, in a private chat with the bot (docs/spec.md §3).

Each reads and writes the conversation record; the states they lead to are
in ``flow.py``.
"""

from __future__ import annotations

from handlers import cards, file_gate, news, report_limit, rooms
from handlers.conversation import after_ask, flow, steps
from handlers.conversation.record import (
    Conversation,
    Draft,
    ForgetQuestion,
    LanguageQuestion,
    State,
    erase,
    load,
)
from handlers.i18n import N_
from handlers.outgoing import Kind as Outgoing
from handlers.turn import Turn
from storage.records import CaseState, Consent, Urgency

PUBLIC_STATES: dict[str, str] = {
    CaseState.NEW: N_("received"),
    CaseState.TRIAGE: N_("under review"),
    CaseState.VERIFYING: N_("under review"),
    CaseState.ACTION: N_("action under way"),
    CaseState.MONITORING: N_("action under way"),
    CaseState.CLOSED: N_("closed"),
}
"""What a defender's /status shows of each case state (no internal detail)."""


async def start(turn: Turn) -> None:
    conversation = await load(turn.services, turn.account.id)
    await turn.say(
        turn.t(
            "Hello. This bot connects you with the network's advisory group when you or "
            "someone you work with is in danger. What you send is stored encrypted and "
            "read only by the advisory group."
        )
    )
    await flow.ask_question(turn, conversation, LanguageQuestion())
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
    conversation = await load(turn.services, turn.account.id)
    await flow.ask_question(turn, conversation, LanguageQuestion())


async def forget(turn: Turn) -> None:
    conversation = await load(turn.services, turn.account.id)
    await flow.ask_question(turn, conversation, ForgetQuestion())


async def report(turn: Turn) -> None:
    conversation = await load(turn.services, turn.account.id)
    if conversation.state is not State.IDLE:
        await turn.say(turn.t("You have a report in progress. Let us continue where you stopped."))
        await steps.ask(turn, conversation)
        return
    conversation = Conversation(State.WHAT, first_message_id=turn.msg.message_id)
    await flow.store(turn, conversation)
    await turn.say(
        turn.t("You can change any answer before sending. /cancel stops and erases the draft.")
    )
    await steps.ask(turn, conversation)


async def cancel(turn: Turn) -> None:
    conversation = await load(turn.services, turn.account.id)
    await erase(turn.services, turn.account.id)
    if conversation.state is State.IDLE:
        await turn.say(turn.t("There is nothing to cancel."))
    else:
        await turn.say(turn.t("Your draft was erased. Nothing was sent."))


async def sos(turn: Turn, text: str | None) -> None:
    """Alert the advisory group at once with whatever is written so far."""
    conversation = await load(turn.services, turn.account.id)
    draft = conversation.draft if conversation.state is not State.IDLE else Draft()
    if draft.sos_ref:
        ref = draft.sos_ref
        if await turn.services.db.outbox.delivered(Outgoing.CARD, ref):
            await turn.say(
                turn.t("The advisory group has already been alerted for {ref}.", ref=ref)
            )
        else:
            await turn.say(
                turn.t(
                    "Your alert {ref} is saved. The advisory group has not received it yet; "
                    "the bot keeps trying.",
                    ref=ref,
                )
            )
        return
    if text and len(text) > turn.services.settings.max_text_chars:
        # The alarm still goes; only the text is refused.
        await turn.say(steps.too_long(turn))
        text = None
    over = await report_limit.case_to_update(turn)
    if over is not None:  # over reports_per_day: the alarm is raised on the latest open case
        await report_limit.raise_again(turn, over, text or "")
        return
    if text:
        draft.what.append(text)
    draft.urgency = Urgency.IMMEDIATE.value
    draft.consent = draft.consent or Consent.ADVISORY_ONLY.value
    ref = await flow.create_case(turn, draft)
    await cards.post_case_card(turn.services, ref, sos=True)
    draft.sos_ref = ref
    conversation.draft, conversation.pending = draft, None
    if conversation.first_message_id is None:
        conversation.first_message_id = turn.msg.message_id
    await turn.say(
        turn.t(
            "Your alert is saved under the reference {ref}. If you can, answer a few more "
            "questions so that the advisory group can help you better.",
            ref=ref,
        )
    )
    await flow.promise_alerted(turn, ref)
    await flow.go(turn, conversation, State.WHERE if draft.what else State.WHAT)


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
        await turn.say(steps.too_long(turn))
        return
    if turn.msg.attachments:  # the report's limits: kinds, sizes, files per case
        held = len((await turn.services.db.cases.get(ref)).attachments)
        problem = file_gate.attachment_problem(turn, held) or after_ask.file_problem(turn)
        if problem:
            await turn.say(problem)
            return
    if not await news.reopen_for_update(turn, ref):
        return
    files = [(a.filename, a.mime_type, a.data) for a in turn.msg.attachments]
    event = await turn.services.db.cases.add_update(ref, turn.account.id, text or "", files)
    await turn.say(turn.t("Added to {ref}. The advisory group has been told.", ref=ref))
    await rooms.notice(
        turn.services, N_("The defender added information to {ref}. /case {ref} shows it."), ref=ref
    )
    await after_ask.files_to_rooms(turn, ref, event.attachments)

"""Outcome news: how an appeal ended, told to every group that received it.

``/appeal outcome A-… LANG TEXT`` saves the outcome in one language (as
``/appeal text`` does for the appeal), checked against the case's consent;
``/appeal outcome A-… send`` queues one message per group the appeal was
sent to, in the group's language, and thanks the groups whose organisation
signed. It works after the deadline. The broadcast goes through the outbox
under its own kind, so each group gets it once, also across a restart
(the outbox skips destinations already queued, and a second ``send`` is
refused once the broadcast exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers import appeals, broadcast
from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES, render
from handlers.turn import Turn
from storage import AppealDetail, AppealState, BroadcastKind, Language
from storage.records import MemberGroup
from storage.repos.appeal_notes import OUTCOME
from storage.repos.outbox import Delivery

KIND = BroadcastKind.APPEAL_OUTCOME
SEND = "send"


async def _consent_problem(turn: Turn, appeal: AppealDetail, texts: list[str]) -> str | None:
    """The case must still consent to a public appeal; anonymised consent
    refuses a text that names a person named in the report."""
    if appeal.case_ref is None:
        return None
    case = await turn.services.db.cases.get(appeal.case_ref)
    if case.withdrawn or case.consent not in appeals.PUBLIC:
        return turn.t(
            "Case {case} has no consent to a public appeal: the outcome cannot be sent.",
            case=appeal.case_ref,
        )
    return appeals.anonymity_problem(turn, case, texts)


async def save_text(turn: Turn, appeal: AppealDetail, language: str, text: str) -> str:
    if language not in LANGUAGES or not text:
        raise BadArgument(language)
    if len(text) > turn.services.settings.max_text_chars:
        return turn.t("That message is too long. Nothing was saved.")
    problem = await _consent_problem(turn, appeal, [text])
    if problem:
        return problem
    await turn.services.db.appeal_notes.set_note(
        appeal.ref, str(turn.msg.sender), OUTCOME, language, text
    )
    return turn.t(
        "Outcome of {ref} in {language} saved. When every language is ready: "
        "/appeal outcome {ref} send",
        ref=appeal.ref,
        language=language,
    )


async def recipients(turn: Turn, appeal: AppealDetail) -> list[MemberGroup]:
    """The groups the appeal was sent to (recorded at send); for an appeal sent
    before recipients were recorded, its audience as targeted."""
    db = turn.services.db
    recorded = await db.appeal_notes.recipients(appeal.ref)
    if recorded is not None:
        return recorded
    return await appeals.audience(turn.services, appeal)


def _message(language: str, ref: str, text: str, signed: bool) -> str:
    lines = [render(language, "Outcome of appeal {ref}:", ref=ref), "", text]
    if signed:
        lines += ["", render(language, "Thank you: your organisation signed this appeal.")]
    return "\n".join(lines)


async def send(turn: Turn, appeal: AppealDetail) -> str:
    db = turn.services.db
    ref = appeal.ref
    texts = await db.appeal_notes.notes(ref, OUTCOME)
    if Language.EN not in texts:
        return turn.t(
            "{ref} needs an English outcome, the fallback for every group: "
            "/appeal outcome {ref} en text",
            ref=ref,
        )
    problem = await _consent_problem(turn, appeal, list(texts.values()))
    if problem:
        return problem
    if await db.outbox.broadcast(KIND, ref) is not None:
        return turn.t("The outcome of {ref} was already sent.", ref=ref)
    signed = await db.appeals.signed_organisation_ids(ref)
    deliveries = []
    for group in await recipients(turn, appeal):
        language = group.language if group.language in texts else Language.EN
        thanked = group.organisation_id in signed
        deliveries.append(
            Delivery(group.address, language, _message(language, ref, texts[language], thanked))
        )
    await broadcast.queue_broadcast(turn.services, KIND, ref, deliveries)
    await db.audit.append(str(turn.msg.sender), "appeal.outcome.send", ref, str(len(deliveries)))
    return turn.tn(
        "The outcome of {ref} is being sent to {n} member group.",
        "The outcome of {ref} is being sent to {n} member groups.",
        len(deliveries),
        ref=ref,
    )


async def run(turn: Turn, args: Mapping[str, Any]) -> str:
    """``/appeal outcome A-… LANG TEXT`` or ``/appeal outcome A-… send``."""
    ref, first, text = args["appeal"], args["language"], (args["text"] or "").strip()
    appeal = await turn.services.db.appeals.get(ref)
    if appeal.state == AppealState.DRAFT:
        return turn.t("{ref} has not been sent: it has no outcome yet.", ref=ref)
    if first == SEND:
        if text:
            raise BadArgument(text)
        return await send(turn, appeal)
    return await save_text(turn, appeal, first, text)

"""The defender's report: a guided conversation (SPEC §3).

One question at a time; every answer can be changed before sending; the
state is stored encrypted after each step, so a restart resumes it.

    /report ─▶ WHAT ─▶ WHERE ─▶ WHO ─▶ URGENCY ─▶ CONSENT ─▶ CONTACT ─▶ SUMMARY
                 ▲ (several messages,                               │ confirm ─▶ case
                 │  photos, documents; "done")                      │ cancel  ─▶ erased
                 └───────────── edit: back to one step, then SUMMARY ◀┘

    /sos ─▶ case created at once as "immediate" from what is written so far,
            the room alerted, then WHERE … CONTACT ─▶ SUMMARY updates the case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from handlers import cards
from handlers.i18n import N_
from handlers.messages import AttachmentKind, Option
from handlers.turn import Turn, resolve_choice


class State(StrEnum):
    WHAT = "what"
    WHERE = "where"
    WHO = "who"
    URGENCY = "urgency"
    CONSENT = "consent"
    CONTACT = "contact"
    SUMMARY = "summary"


URGENCIES = {
    "immediate": N_("Immediate danger (hours)"),
    "days": N_("Within days"),
    "weeks": N_("Within weeks"),
}
CONSENTS = {
    "advisory_only": N_("Advisory group only"),
    "trusted_partners": N_("Share with trusted partners for referral"),
    "public_named": N_("Public appeal with names"),
    "public_anonymised": N_("Public appeal, anonymised"),
    "ask_first": N_("Public appeal, but show me its text first"),
}


@dataclass(frozen=True)
class Step:
    question: str
    next: State
    choices: dict[str, str] | None = None  # key -> label (message id)
    optional: bool = False  # offers "skip"
    multi: bool = False  # several messages and files until "done"


STEPS: dict[State, Step] = {
    State.WHAT: Step(
        N_(
            "What is happening? Write as much as you need, in several messages if you like, "
            "and add photos or documents. Press Done when you have finished."
        ),
        State.WHERE,
        multi=True,
    ),
    State.WHERE: Step(N_("Where is this happening? Country and place."), State.WHO),
    State.WHO: Step(N_("Who is at risk? A person, an organisation or a community."), State.URGENCY),
    State.URGENCY: Step(N_("How urgent is it?"), State.CONSENT, choices=URGENCIES),
    State.CONSENT: Step(
        N_("What may the network do with your report?"), State.CONTACT, choices=CONSENTS
    ),
    State.CONTACT: Step(
        N_(
            "Is there a safe way and time to reach you? For example: "
            "'Signal, evenings after 8pm'. You can skip this."
        ),
        State.SUMMARY,
        optional=True,
    ),
}


def _option(turn: Turn, key: str, label: str) -> Option:
    return Option(key, turn.t(label))


async def ask_step(turn: Turn, state: State) -> None:
    step = STEPS[state]
    if step.choices:
        options = [_option(turn, f"{state}:{k}", label) for k, label in step.choices.items()]
    elif step.multi:
        options = [_option(turn, f"{state}:done", N_("Done"))]
    elif step.optional:
        options = [_option(turn, f"{state}:skip", N_("Skip"))]
    else:
        options = []
    text = turn.t(step.question)
    if options:
        await turn.ask(text, options)
    else:
        await turn.say(text)


def summary_options(turn: Turn) -> list[Option]:
    return [
        _option(turn, "summary:confirm", N_("Send the report")),
        _option(turn, "summary:edit", N_("Change an answer")),
        _option(turn, "summary:cancel", N_("Cancel and erase")),
    ]


def edit_options(turn: Turn) -> list[Option]:
    labels = {
        State.WHAT: N_("What is happening"),
        State.WHERE: N_("Where"),
        State.WHO: N_("Who is at risk"),
        State.URGENCY: N_("Urgency"),
        State.CONSENT: N_("Consent"),
        State.CONTACT: N_("How to reach you"),
    }
    return [_option(turn, f"edit:{state}", label) for state, label in labels.items()]


def summary_text(turn: Turn, data: dict[str, Any]) -> str:
    none = turn.t("(not given)")
    what = "\n".join(data.get("what", [])) or none
    files = len(data.get("attachments", []))
    urgency = data.get("urgency")
    consent = data.get("consent")
    lines = [
        turn.t("Please check your report before sending it:"),
        "",
        turn.t("What is happening: {text}", text=what),
        turn.t("Files attached: {count}", count=files),
        turn.t("Where: {text}", text=data.get("where") or none),
        turn.t("Who is at risk: {text}", text=data.get("who") or none),
        turn.t("Urgency: {text}", text=turn.t(URGENCIES[urgency]) if urgency else none),
        turn.t("Consent: {text}", text=turn.t(CONSENTS[consent]) if consent else none),
        turn.t("How to reach you: {text}", text=data.get("contact") or none),
    ]
    return "\n".join(lines)


StepHandler = Callable[[Turn, dict[str, Any]], Awaitable[State | None]]


async def answer_step(turn: Turn, state: State, data: dict[str, Any]) -> State | None:
    """Take the person's answer to ``state``; the next state, or None to stay."""
    step = STEPS[state]
    msg = turn.msg
    if step.multi:
        if resolve_choice(msg, [Option(f"{state}:done", turn.t(N_("Done")))]) and data.get("what"):
            return _after(step, data)
        if msg.choice is not None or resolve_choice(msg, [Option(f"{state}:done", "done")]):
            await turn.say(turn.t("Please write what is happening first."))
            return None
        added = await _take_content(turn, data)
        if added:
            await turn.ask(
                turn.t("Noted. Add more, or press Done."),
                [_option(turn, f"{state}:done", N_("Done"))],
            )
        return None
    if step.choices:
        options = [Option(f"{state}:{k}", turn.t(label)) for k, label in step.choices.items()]
        key = resolve_choice(msg, options)
        if key is None:
            await turn.say(turn.t("Please choose one of the options."))
            await ask_step(turn, state)
            return None
        data[state.value] = key.split(":", 1)[1]
        return _after(step, data)
    if step.optional and resolve_choice(msg, [Option(f"{state}:skip", turn.t(N_("Skip")))]):
        data[state.value] = ""
        return _after(step, data)
    if msg.attachments:
        await turn.say(turn.t("Please answer in words here; files belong to the first question."))
        return None
    text = msg.text.strip()
    if not text:
        await turn.say(turn.t("Please answer in words."))
        return None
    if len(text) > turn.services.settings.max_text_chars:
        await turn.say(_too_long(turn))
        return None
    data[state.value] = text
    return _after(step, data)


def _after(step: Step, data: dict[str, Any]) -> State:
    """Editing one answer returns to the summary instead of the next question."""
    return State.SUMMARY if data.get("editing") else step.next


def _too_long(turn: Turn) -> str:
    return turn.t(
        "That message is too long ({limit} characters at most). Please send it in parts.",
        limit=turn.services.settings.max_text_chars,
    )


async def _take_content(turn: Turn, data: dict[str, Any]) -> bool:
    """Add text and files to the draft; refuse what is too big or not supported."""
    settings = turn.services.settings
    msg = turn.msg
    text = msg.text.strip()
    if len(text) > settings.max_text_chars:
        await turn.say(_too_long(turn))
        return False
    files = data.setdefault("attachments", [])
    for attachment in msg.attachments:
        if attachment.kind is AttachmentKind.OTHER:
            await turn.say(turn.t("I can take text, photos and documents only. Nothing was saved."))
            return False
        if attachment.size > settings.max_attachment_bytes:
            await turn.say(
                turn.t(
                    "That file is too large ({limit} MB at most). Nothing was saved.",
                    limit=settings.max_attachment_bytes // 1_000_000,
                )
            )
            return False
    if len(files) + len(msg.attachments) > settings.max_attachments_per_report:
        await turn.say(
            turn.t(
                "A report can hold {limit} files at most. Nothing more was saved.",
                limit=settings.max_attachments_per_report,
            )
        )
        return False
    if not text and not msg.attachments:
        await turn.say(turn.t("Please write what is happening first."))
        return False
    if text:
        data.setdefault("what", []).append(text)
    for attachment in msg.attachments:
        files.append(cards.draft_attachment(attachment))
    return True

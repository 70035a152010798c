"""The report's questions: one table of steps, one function that asks a step
and one that takes its answer (docs/spec.md §3).

One question at a time; every answer can be changed from the summary
before sending. The flow between states is in ``flow.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import file_gate, keys
from handlers.conversation import country
from handlers.conversation.record import Conversation, Draft, State, stored_file
from handlers.i18n import N_
from handlers.keys import Kind
from handlers.messages import Option
from handlers.turn import Turn, resolve_choice
from storage.records import Consent, Urgency

URGENCIES: dict[str, str] = {
    Urgency.IMMEDIATE: N_("Immediate danger (hours)"),
    Urgency.DAYS: N_("Within days"),
    Urgency.WEEKS: N_("Within weeks"),
}
CONSENTS: dict[str, str] = {
    Consent.ADVISORY_ONLY: N_("Advisory group only"),
    Consent.TRUSTED_PARTNERS: N_("Share with trusted partners for referral"),
    Consent.PUBLIC_NAMED: N_("Public appeal with names"),
    Consent.PUBLIC_ANONYMISED: N_("Public appeal, anonymised"),
    Consent.ASK_FIRST: N_("Public appeal, but show me its text first"),
}
DONE, SKIP = "done", "skip"


@dataclass(frozen=True)
class Step:
    question: str
    next: State
    label: str  # the step in the summary's "change an answer" list
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
        N_("What is happening"),
        multi=True,
    ),
    State.WHERE: Step(
        N_("Where is this happening? Country and place."), State.COUNTRY, N_("Where")
    ),
    # Asked only when the network offers countries (``country.offered``).
    State.COUNTRY: Step(
        N_("In which country? Choose it below, or press Other to write it."),
        State.WHO,
        N_("Country"),
        optional=True,
    ),
    State.WHO: Step(
        N_("Who is at risk? A person, an organisation or a community."),
        State.URGENCY,
        N_("Who is at risk"),
    ),
    State.URGENCY: Step(N_("How urgent is it?"), State.CONSENT, N_("Urgency"), URGENCIES),
    State.CONSENT: Step(
        N_("What may the network do with your report?"), State.CONTACT, N_("Consent"), CONSENTS
    ),
    State.CONTACT: Step(
        N_(
            "Is there a safe way and time to reach you? For example: "
            "'Signal, evenings after 8pm'. You can skip this."
        ),
        State.SUMMARY,
        N_("How to reach you"),
        optional=True,
    ),
}


def asked(turn: Turn, state: State) -> bool:
    """Whether the report asks ``state`` (the country only where offered)."""
    return state is not State.COUNTRY or country.offered(turn)


def step_options(turn: Turn, state: State) -> list[Option]:
    if state is State.COUNTRY:
        return country.options(turn)
    step = STEPS[state]
    if step.choices:
        return [keys.option(state, k, turn.t(label)) for k, label in step.choices.items()]
    if step.multi:
        return [keys.option(state, DONE, turn.t(N_("Done")))]
    if step.optional:
        return [keys.option(state, SKIP, turn.t(N_("Skip")))]
    return []


def summary_options(turn: Turn) -> list[Option]:
    return [
        keys.option(Kind.SUMMARY, "confirm", turn.t(N_("Send the report"))),
        keys.option(Kind.SUMMARY, "edit", turn.t(N_("Change an answer"))),
        keys.option(Kind.SUMMARY, "cancel", turn.t(N_("Cancel and erase"))),
    ]


def edit_options(turn: Turn) -> list[Option]:
    return [
        keys.option(Kind.EDIT, state, turn.t(step.label))
        for state, step in STEPS.items()
        if asked(turn, state)
    ]


def summary_text(turn: Turn, draft: Draft) -> str:
    none = turn.t("(not given)")
    urgency, consent = draft.urgency, draft.consent
    lines = [
        turn.t("Please check your report before sending it:"),
        "",
        turn.t("What is happening: {text}", text="\n".join(draft.what) or none),
        turn.t("Files attached: {count}", count=len(draft.attachments)),
        turn.t("Where: {text}", text=draft.where or none),
        *(
            [turn.t("Country: {text}", text=country.shown(turn, draft) or none)]
            if asked(turn, State.COUNTRY)
            else []
        ),
        turn.t("Who is at risk: {text}", text=draft.who or none),
        turn.t("Urgency: {text}", text=turn.t(URGENCIES[urgency]) if urgency else none),
        turn.t("Consent: {text}", text=turn.t(CONSENTS[consent]) if consent else none),
        turn.t("How to reach you: {text}", text=draft.contact or none),
    ]
    return "\n".join(lines)


async def ask(turn: Turn, conversation: Conversation) -> None:
    """Ask the question of the conversation's state (again, when resuming)."""
    state = conversation.state
    if state is State.SUMMARY:
        await turn.ask(summary_text(turn, conversation.draft), summary_options(turn))
    elif state is State.EDIT:
        await turn.ask(turn.t("Which answer do you want to change?"), edit_options(turn))
    elif state is not State.IDLE:
        options = step_options(turn, state)
        text = turn.t(STEPS[state].question)
        await (turn.ask(text, options) if options else turn.say(text))


def too_long(turn: Turn) -> str:
    return turn.t(
        "That message is too long ({limit} characters at most). Please send it in parts.",
        limit=turn.services.settings.max_text_chars,
    )


async def answer(turn: Turn, state: State, draft: Draft) -> State | None:
    """Take the person's answer to ``state``; the next state, or None to stay."""
    step = STEPS[state]
    msg = turn.msg
    if state is State.COUNTRY:
        return _after(turn, step, draft) if await country.answer(turn, draft) else None
    chosen = resolve_choice(msg, step_options(turn, state))
    if step.multi:
        if chosen and draft.what:
            return _after(turn, step, draft)
        if msg.choice is not None or keys.value_of(chosen, state) == DONE:
            await turn.say(turn.t("Please write what is happening first."))
            return None
        if await _take_content(turn, draft):
            await turn.ask(turn.t("Noted. Add more, or press Done."), step_options(turn, state))
        return None
    if step.choices:
        value = keys.value_of(chosen, state)
        if value is None:
            await turn.say(turn.t("Please choose one of the options."))
            await ask(turn, Conversation(state))
            return None
        draft.set_answer(state, value)
        return _after(turn, step, draft)
    if step.optional and chosen:
        draft.set_answer(state, "")
        return _after(turn, step, draft)
    if msg.attachments:
        await turn.say(turn.t("Please answer in words here; files belong to the first question."))
        return None
    text = msg.text.strip()
    if not text:
        await turn.say(turn.t("Please answer in words."))
        return None
    if len(text) > turn.services.settings.max_text_chars:
        await turn.say(too_long(turn))
        return None
    draft.set_answer(state, text)
    return _after(turn, step, draft)


def _after(turn: Turn, step: Step, draft: Draft) -> State:
    """Changing one answer returns to the summary instead of the next question;
    a question the network does not ask is passed over."""
    if draft.editing:
        return State.SUMMARY
    following = step.next
    while following in STEPS and not asked(turn, following):
        following = STEPS[following].next
    return following


async def _take_content(turn: Turn, draft: Draft) -> bool:
    """Add text and files to the draft; refuse what is too big or not supported."""
    settings = turn.services.settings
    msg = turn.msg
    text = msg.text.strip()
    if len(text) > settings.max_text_chars:
        await turn.say(too_long(turn))
        return False
    problem = file_gate.attachment_problem(turn, len(draft.attachments))
    if problem:  # nothing written yet: a refusal leaves the draft as it was
        await turn.say(problem)
        return False
    if not text and not msg.attachments:
        await turn.say(turn.t("Please write what is happening first."))
        return False
    if text:
        draft.what.append(text)
    draft.attachments.extend(stored_file(a) for a in msg.attachments)
    return True

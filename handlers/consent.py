"""Consent at any time (issue 15, item 2).

``/consent C-…`` shows the case's consent and offers the others as buttons.
Narrowing it blocks what the old consent allowed and is not sent yet — an
appeal is checked against the consent at the moment it is sent
(handlers/appeals.py), so a draft the new consent does not allow can no
longer go out; a referral whose partner summary the old consent allowed
and that was never sent is marked blocked (``Partners.block_unsent``,
audited), and ``/referral R-… send`` is refused naming the change — and
the triage rooms are told which drafts and referrals that stops.

With "ask me first" (``ask_first``) an appeal goes out only after the
defender has seen its texts and answered "yes": ``/appeal send`` sends the
texts to the defender for review and is refused until then. A "no" asks
the defender why, and their next message goes to the rooms under the case
reference (the relay's pending reply). A review is bound to a digest of the
texts: changing a text needs a new "yes".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from handlers import cards, news, referrals, rooms
from handlers.conversation import record
from handlers.i18n import N_, render
from handlers.messages import Option
from handlers.turn import Turn
from storage.errors import NotFound
from storage.records import AppealDetail, AppealState, Consent, EventKind

PREFIX = "caseconsent:"
REVIEW = "review:"
CHOICES = (
    Consent.ADVISORY_ONLY,
    Consent.TRUSTED_PARTNERS,
    Consent.ASK_FIRST,
    Consent.PUBLIC_ANONYMISED,
    Consent.PUBLIC_NAMED,
)
RANK = {consent.value: rank for rank, consent in enumerate(CHOICES)}
"""Breadth of a consent: moving to a lower rank narrows it."""
APPEALS_ALLOWED = (Consent.ASK_FIRST, Consent.PUBLIC_ANONYMISED, Consent.PUBLIC_NAMED)


def label(turn: Turn, consent: str) -> str:
    return turn.t(cards.LABELS[consent])


async def _own(turn: Turn, ref: str) -> bool:
    mine = {c.ref for c in await turn.services.db.cases.cases_of(turn.account.id)}
    return ref in mine


async def run(turn: Turn, args: Mapping[str, Any]) -> None:
    """``/consent C-…`` (private chat; the defender's own case only)."""
    ref = str(args["case"])
    if not await _own(turn, ref):
        await turn.say(turn.t("You have no case {ref}. /status lists your cases.", ref=ref))
        return
    case = await turn.services.db.cases.get(ref)
    if case.withdrawn:
        await turn.say(turn.t("You have no case {ref}. /status lists your cases.", ref=ref))
        return
    options = [
        Option(
            f"{PREFIX}{ref}:{consent.value}",
            ("✓ " if consent.value == case.consent else "") + label(turn, consent.value),
        )
        for consent in CHOICES
    ]
    await turn.ask(
        turn.t(
            "Consent for {ref}: {value}. You can change it at any time. Who may learn of "
            "your case?",
            ref=ref,
            value=label(turn, case.consent),
        ),
        options,
    )


async def on_choice(turn: Turn) -> bool:
    """A consent or review button; False when the press is for someone else."""
    choice = turn.msg.choice or ""
    if choice.startswith(PREFIX):
        ref, _, value = choice[len(PREFIX) :].partition(":")
        if value in RANK:
            await _change(turn, ref, value)
            return True
    if choice.startswith(REVIEW):
        parts = choice[len(REVIEW) :].split(":")
        if len(parts) == 3 and parts[2] in ("yes", "no"):
            await _answer_review(turn, parts[0], parts[1], parts[2] == "yes")
            return True
    return False


async def _change(turn: Turn, ref: str, value: str) -> None:
    services = turn.services
    try:
        old = await services.db.cases.set_consent(ref, turn.account.id, value)
    except NotFound:
        await turn.say(turn.t("You have no case {ref}. /status lists your cases.", ref=ref))
        return
    if old == value:
        await turn.say(
            turn.t("Consent for {ref} is unchanged: {value}.", ref=ref, value=label(turn, value))
        )
        return
    await turn.say(turn.t("Consent for {ref} is now: {value}.", ref=ref, value=label(turn, value)))
    new_label = cards.LABELS[value]
    blocked: list[str] = []
    if referrals.summary_reach(value) < referrals.summary_reach(old):
        # In this turn's unit of work: the change and the blocks commit together.
        blocked = await services.db.partners.block_unsent(ref, old, value)
    if RANK[value] >= RANK[old] and not blocked:
        await rooms.notice(
            services,
            N_("The defender changed the consent of {ref} to: {value}."),
            ref=ref,
            value=render(services.settings.default_language, new_label),
        )
        return
    drafts = [
        a.ref
        for a in await services.db.appeals.list_appeals(AppealState.DRAFT)
        if a.case_ref == ref and value not in APPEALS_ALLOWED
    ]
    await rooms.notice(
        services,
        N_(
            "The defender narrowed the consent of {ref} to: {value}. Appeals and referrals "
            "it no longer allows must not go ahead. Blocked appeals: {appeals}. Blocked "
            "referrals (no summary may be sent): {referrals}."
        ),
        ref=ref,
        value=render(services.settings.default_language, new_label),
        appeals=", ".join(drafts) or "—",
        referrals=", ".join(blocked) or "—",
    )


# -- "ask me first": the defender reviews an appeal's texts ---------------------------


def digest(texts: Mapping[str, str]) -> str:
    return hashlib.sha256(
        json.dumps(dict(sorted(texts.items())), ensure_ascii=False).encode()
    ).hexdigest()[:16]


async def review_problem(turn: Turn, appeal: AppealDetail) -> str | None:
    """Why ``/appeal send`` must wait for the defender (None once they said yes).

    The first refusal sends the texts to the defender (once per set of texts).
    """
    assert appeal.case_ref is not None
    services = turn.services
    wanted = digest(appeal.texts)
    verdicts = [
        e.value
        for e in await services.db.cases.history(appeal.case_ref)
        if e.kind == EventKind.REVIEW.value and e.value
    ]
    if f"yes:{appeal.ref}:{wanted}" in verdicts:
        return None
    if f"no:{appeal.ref}:{wanted}" in verdicts:
        return turn.t(
            "The defender of {case} did not agree to these texts of {ref}. Change them and "
            "send again to ask them again.",
            case=appeal.case_ref,
            ref=appeal.ref,
        )
    texts = "\n\n".join(f"[{lang}] {text}" for lang, text in sorted(appeal.texts.items()))
    await news.tell_defender(
        services,
        appeal.case_ref,
        f"review:{appeal.ref}:{wanted}",
        N_(
            "You asked to see any public appeal about your case {ref} before it is sent. "
            "The advisory group prepared this one:\n\n{texts}\n\nMay it be sent?"
        ),
        options=[
            (f"{REVIEW}{appeal.ref}:{wanted}:yes", N_("Yes, send it")),
            (f"{REVIEW}{appeal.ref}:{wanted}:no", N_("No")),
        ],
        ref=appeal.case_ref,
        texts=texts,
    )
    return turn.t(
        "{ref} waits for the review of the defender of {case}: its texts were sent to them. "
        "Send it again after they agree.",
        ref=appeal.ref,
        case=appeal.case_ref,
    )


async def _answer_review(turn: Turn, appeal_ref: str, wanted: str, approved: bool) -> None:
    services = turn.services
    try:
        appeal = await services.db.appeals.get(appeal_ref)
    except NotFound:
        appeal = None
    if appeal is None or appeal.case_ref is None or not await _own(turn, appeal.case_ref):
        await turn.say(turn.t("That question is closed."))
        return
    if appeal.state != AppealState.DRAFT or digest(appeal.texts) != wanted:
        await turn.say(turn.t("That question is closed."))
        return
    ref = appeal.case_ref
    await services.db.cases.record_review(ref, turn.account.id, appeal_ref, wanted, approved)
    if approved:
        await turn.say(turn.t("Thank you. The advisory group may now send it."))
        await rooms.notice(
            services,
            N_("The defender of {case} agreed to the texts of {ref}. /appeal send {ref}"),
            case=ref,
            ref=appeal_ref,
        )
        return
    # Their next message is the reason, relayed to the rooms like an answer to /ask.
    await record.await_reply(services, turn.account.id, ref)
    await turn.say(
        turn.t(
            "Understood: it will not be sent. Tell the advisory group why, in one message; it "
            "goes to them under {ref}.",
            ref=ref,
        )
    )
    await rooms.notice(
        services,
        N_("The defender of {case} did not agree to the texts of {ref}. Their reason follows."),
        case=ref,
        ref=appeal_ref,
    )

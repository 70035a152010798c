"""Case news: the defender hears what happens to their case (issue 15, item 1).

The defender is told, in their language, when the case is acknowledged,
when an action is taken (an appeal sent, a referral made) and when it is
closed, with how to reopen it. No notice names an advisor or carries an
advisor's account: the words are always "a person of the advisory group"
or "the advisory group". Every notice is queued in the outbox (the
dispatcher sends it) under a key that makes it idempotent: the same news is
never queued twice, even if the action is repeated or retried after a crash.

``/status`` shows the same events as a timeline, rebuilt from the case
history (``timeline``), so the two never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from handlers import rooms
from handlers.i18n import N_, render
from handlers.services import Services
from handlers.turn import Turn
from storage.errors import NotFound
from storage.records import CaseDetail, CaseEvent, CaseState, Consent, EventKind, Referral
from storage.repos.outbox import Delivery

log = logging.getLogger(__name__)

KIND = "news"
PUBLIC_CONSENT = (Consent.PUBLIC_NAMED, Consent.PUBLIC_ANONYMISED)
PARTNER_CONSENT = (Consent.TRUSTED_PARTNERS, *PUBLIC_CONSENT)
"""Consents under which the defender agreed that partners may learn of the case."""

REFERRAL_LABELS: dict[str, str] = {
    Referral.LEGAL: N_("legal support"),
    Referral.MEDICAL: N_("medical support"),
    Referral.RELOCATION: N_("relocation"),
    "digital": N_("digital security"),  # the word of older case histories
    Referral.DIGITAL_SECURITY: N_("digital security"),
    Referral.MATERIAL: N_("material support"),
    Referral.OTHER: N_("other support"),
}


async def _reader(services: Services, case: CaseDetail) -> tuple[str, str] | None:
    """The defender's address and language; None when they cannot be told."""
    if case.reporter_account_id is None or case.withdrawn:
        return None
    try:
        address = await services.db.accounts.address_of(case.reporter_account_id)
        account = await services.db.accounts.get(case.reporter_account_id)
    except NotFound:
        return None
    return address, account.language or services.settings.default_language


async def tell_defender(
    services: Services,
    case_ref: str,
    key: str,
    message: str,
    /,
    options: Sequence[tuple[str, str]] = (),
    kind: str = KIND,
    translated: Mapping[str, str] | None = None,
    **params: Any,
) -> bool:
    """Queue ``message`` for the defender of ``case_ref`` (once per ``key``).

    ``options`` are (key, English label) pairs and ``translated`` are
    parameters that are themselves message ids; both are rendered in the
    defender's language. False when the defender cannot be reached
    (withdrawn, erased).
    """
    try:
        case = await services.db.cases.get(case_ref)
    except NotFound:
        return False
    reader = await _reader(services, case)
    if reader is None:
        return False
    address, language = reader
    for name, value in (translated or {}).items():
        params[name] = render(language, value)
    text = render(language, message, **params)
    buttons = tuple((k, render(language, label)) for k, label in options)
    await services.db.outbox.enqueue_deliveries(
        kind, f"{case_ref}:{key}", [Delivery(address, language, text, buttons)]
    )
    return True


async def acknowledged(services: Services, ref: str) -> None:
    await tell_defender(
        services,
        ref,
        "ack",
        N_(
            "News on your case {ref}: a person of the advisory group is handling it. "
            "/status shows what has happened so far."
        ),
        ref=ref,
    )


async def referred(services: Services, ref: str, seq: int | str, kind: str, partner: str) -> None:
    case = await services.db.cases.get(ref)
    label = REFERRAL_LABELS.get(kind, REFERRAL_LABELS[Referral.OTHER])
    if case.consent in PARTNER_CONSENT:
        await tell_defender(
            services,
            ref,
            f"refer:{seq}",
            N_("News on your case {ref}: it was referred to {partner} for {kind}."),
            ref=ref,
            partner=partner,
            translated={"kind": label},
        )
    else:
        await tell_defender(
            services,
            ref,
            f"refer:{seq}",
            N_("News on your case {ref}: it was referred to a partner for {kind}."),
            ref=ref,
            translated={"kind": label},
        )


async def appeal_sent(services: Services, appeal_ref: str) -> None:
    """An appeal for a case went out; with public consent the defender sees its text."""
    appeal = await services.db.appeals.get(appeal_ref)
    if appeal.case_ref is None:
        return
    case = await services.db.cases.get(appeal.case_ref)
    reader = await _reader(services, case)
    if reader is None:
        return
    _, language = reader
    text = appeal.texts.get(language) or appeal.texts.get("en", "")
    key = f"appeal:{appeal_ref}"
    if case.consent in PUBLIC_CONSENT and text:
        await tell_defender(
            services,
            case.ref,
            key,
            N_(
                "News on your case {ref}: the network sent an urgent appeal to its members "
                "({appeal}). Its text:\n\n{text}"
            ),
            ref=case.ref,
            appeal=appeal_ref,
            text=text,
        )
    else:
        await tell_defender(
            services,
            case.ref,
            key,
            N_("News on your case {ref}: the network sent an urgent appeal to its members."),
            ref=case.ref,
        )


async def closed(services: Services, ref: str, closed_at: datetime) -> None:
    days = services.settings.reopen_period.days
    await tell_defender(
        services,
        ref,
        f"closed:{closed_at.isoformat(timespec='seconds')}",
        N_(
            "News on your case {ref}: the advisory group closed it. If something new happens "
            "within {days} days, /update {ref} followed by what happened reopens it."
        ),
        ref=ref,
        days=days,
    )


async def reopen_for_update(turn: Turn, ref: str) -> bool:
    """``/update`` on a closed case reopens it within the reopening period.

    False (and the defender is told why) when it was closed too long ago.
    """
    services = turn.services
    case = await services.db.cases.get(ref)
    if case.state != CaseState.CLOSED:
        return True
    since = services.clock.now() - services.settings.reopen_period
    if not await services.db.cases.reopen(ref, turn.account.id, since):
        await turn.say(
            turn.t(
                "{ref} was closed more than {days} days ago, so it cannot be reopened. "
                "/report starts a new report.",
                ref=ref,
                days=services.settings.reopen_period.days,
            )
        )
        return False
    await rooms.notice(
        services, N_("The defender reopened {ref} with new information. /case {ref}"), ref=ref
    )
    return True


# -- /status -----------------------------------------------------------------

TIMELINE = {
    EventKind.CREATED.value: N_("report received"),
    EventKind.ACKNOWLEDGED.value: N_("a person of the advisory group is handling it"),
    EventKind.ASSIGNED.value: N_("a person of the advisory group is handling it"),
    EventKind.QUESTION.value: N_("the advisory group asked you a question"),
    EventKind.REFERRED.value: N_("referred to a partner for {kind}"),
    EventKind.CLOSED.value: N_("closed"),
    EventKind.REOPENED.value: N_("reopened"),
}


HANDLING = (EventKind.ACKNOWLEDGED.value, EventKind.ASSIGNED.value)


def timeline(
    language: str,
    case: CaseDetail,
    events: Sequence[CaseEvent],
    appeals: Sequence[datetime],
    partners: Mapping[str, str] | None = None,
) -> list[str]:
    """The case's public history: dates and what happened, never who did it.
    ``partners``: the partner's name of each referral (``R-…``) of the case."""
    partners = partners or {}
    lines = []
    handled = False
    for event in events:
        message = TIMELINE.get(event.kind)
        if message is None:
            continue
        params: dict[str, Any] = {}
        if event.kind == EventKind.REFERRED.value:  # the partner only with consent
            label = REFERRAL_LABELS.get(event.value or "other", REFERRAL_LABELS[Referral.OTHER])
            params["kind"] = render(language, label)
            partner = partners.get(event.text or "", event.text)
            if case.consent in PARTNER_CONSENT and partner:
                message = N_("referred to {partner} for {kind}")
                params["partner"] = partner
        if event.kind in HANDLING:
            # Taking a case on again, or by another advisor, is not news.
            if handled:
                continue
            handled = True
        lines.append(f"  {event.at:%Y-%m-%d %H:%M} — {render(language, message, **params)}")
    for sent_at in appeals:
        what = render(language, N_("an urgent appeal was sent"))
        lines.append(f"  {sent_at:%Y-%m-%d %H:%M} — {what}")
    return sorted(lines)


async def status_lines(services: Services, language: str, ref: str) -> list[str]:
    """The timeline of one case for /status."""
    case = await services.db.cases.get(ref)
    events = await services.db.cases.history(ref)
    appeals = [
        a.sent_at
        for a in await services.db.appeals.list_appeals()
        if a.case_ref == ref and a.sent_at is not None
    ]
    partners: dict[str, str] = {}
    for event in events:
        if event.kind == EventKind.REFERRED.value and (event.text or "").startswith("R-"):
            try:
                referral = await services.db.partners.get(event.text or "")
            except NotFound:
                continue
            if referral.partner:
                partners[referral.ref] = referral.partner
    return timeline(language, case, events, appeals, partners)

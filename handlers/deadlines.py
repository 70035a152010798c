"""What happens when a deadline comes due (docs/spec.md §4, §8).

Deadlines live in the database. ``run_due`` takes every deadline whose
time has come and acts on it; each action re-reads the database first and
does nothing when the deadline has gone stale (the case was acknowledged or
closed meanwhile). A deadline is moved on (or completed) in storage BEFORE
its alert is queued, and both commit in one unit of work with the alert's
outbox rows: the alert is sent exactly when the step is taken.

Escalation of an unacknowledged case:
    step 0, after the urgency's time  → re-alert the rooms, mentioning the advisors
    step 1, after the same time again → private message to the escalation list
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handlers import advisors, appeals, broadcast, checkin_deadlines, referrals, rooms
from handlers.errors import where
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.services import Services
from storage import AppealState, BroadcastKind, CaseFilter, CaseState, DeadlineKind, Language
from storage.errors import NotFound
from storage.records import AppealDetail

log = logging.getLogger(__name__)

DAILY = timedelta(days=1)


async def escalate(services: Services, ref: str, step: int, due: datetime) -> None:
    """Step 0 (``due`` when it was due): the rooms again; step 1: the escalation list."""
    try:
        case = await services.db.cases.get(ref)
    except NotFound:
        return
    if case.acknowledged_at is not None or case.state == CaseState.CLOSED or case.withdrawn:
        return
    settings = services.settings
    language = settings.default_language
    if step == 0:
        # From when this step was due, not from when it ran: after the bot was down
        # past both steps, the escalation list is told at once, not a period later.
        await services.db.deadlines.schedule(
            DeadlineKind.ESCALATION, ref, due + settings.escalation_after[case.urgency], step=1
        )
        mentions = ", ".join(advisors.alert_name(services, a) for a in settings.advisors)
        text = render(
            language,
            "⚠ Case {ref} ({urgency}) is still not acknowledged. {advisors} — /ack {ref}",
            ref=ref,
            urgency=case.urgency,
            advisors=mentions,
        )
        await rooms.tell_rooms(services, text)
    else:
        await services.db.deadlines.cancel(DeadlineKind.ESCALATION, ref)
        text = render(
            language,
            "⚠ Case {ref} ({urgency}) has gone unacknowledged twice in the advisory room. "
            "Please make sure someone acknowledges it.",
            ref=ref,
            urgency=case.urgency,
        )
        await rooms.tell_rooms(services, text, to=settings.escalation_list)
    await services.db.audit.append("system", f"case.escalation.{step}", ref)


async def followup(services: Services, ref: str) -> None:
    await services.db.deadlines.cancel(DeadlineKind.FOLLOWUP, ref)
    try:
        case = await services.db.cases.get(ref)
    except NotFound:
        return
    if case.withdrawn and case.state == CaseState.CLOSED:
        return  # a closed case keeps its follow-up (/close leaves it only while it runs)
    text = render(
        services.settings.default_language, "⏰ Follow-up due for {ref}. /case {ref}", ref=ref
    )
    await rooms.tell_rooms(services, text)


async def digest(services: Services, now: datetime) -> None:
    await services.db.deadlines.schedule(DeadlineKind.DIGEST, "daily", now + DAILY)
    language = services.settings.default_language
    open_cases = await services.db.cases.list_cases(CaseFilter.OPEN)
    unacked = [c for c in open_cases if c.acknowledged_at is None]
    overdue = await services.db.cases.list_cases(CaseFilter.OVERDUE)
    lines = [
        render(language, "Daily digest"),
        render(
            language,
            "Open: {open} · not acknowledged: {unacked} · follow-up overdue: {overdue}",
            open=len(open_cases),
            unacked=len(unacked),
            overdue=len(overdue),
        ),
    ]
    for case in unacked:
        lines.append(
            render(
                language, "Not acknowledged: {ref} ({urgency})", ref=case.ref, urgency=case.urgency
            )
        )
    for case in overdue:
        lines.append(render(language, "Follow-up overdue: {ref}", ref=case.ref))
    await rooms.tell_rooms(services, "\n".join(lines))


FINISHED_OUTBOX_KEPT = timedelta(days=7)  # a sent message's row: for the broadcast report


async def purge(services: Services, now: datetime) -> None:
    """Retention. Runs again when the next draft or closed case reaches its
    limit (not a day later), and at least every ``_purge_interval``."""
    settings, db = services.settings, services.db
    await db.deadlines.schedule(DeadlineKind.PURGE, "daily", now + _purge_interval(services))
    await db.cases.purge_closed_older_than(now - settings.closed_case_retention)
    await db.conversations.purge_older_than(now - settings.draft_lifetime)
    await db.tokens.purge_expired()
    await db.outbox.purge_finished_before(now - FINISHED_OUTBOX_KEPT)
    await db.deadlines.schedule(DeadlineKind.PURGE, "daily", await next_purge(services, now))


def _purge_interval(services: Services) -> timedelta:
    """Short enough that a draft or case that appears after a run is seen by the
    next run before its own limit, which then schedules the run at that limit."""
    settings = services.settings
    return min(DAILY, settings.draft_lifetime, settings.closed_case_retention)


async def next_purge(services: Services, now: datetime) -> datetime:
    settings, db = services.settings, services.db
    times = [now + _purge_interval(services)]
    if (touched := await db.conversations.oldest_update()) is not None:
        times.append(touched + settings.draft_lifetime)
    if (closed := await db.cases.oldest_closed_at()) is not None:
        times.append(closed + settings.closed_case_retention)
    return max(min(times), now + timedelta(seconds=1))


async def _open_appeal(services: Services, kind: DeadlineKind, ref: str) -> AppealDetail | None:
    """Complete the deadline; the appeal if it is still open for signatures."""
    await services.db.deadlines.cancel(kind, ref)
    try:
        appeal = await services.db.appeals.get(ref)
    except NotFound:
        return None
    return appeal if appeal.state == AppealState.SENT else None


async def appeal_reminder(services: Services, ref: str) -> None:
    """Before the deadline: remind the groups whose organisation has not signed."""
    appeal = await _open_appeal(services, DeadlineKind.APPEAL_REMINDER, ref)
    if appeal is None or appeal.deadline_at is None:
        return
    signed = await services.db.appeals.signed_organisation_ids(ref)
    groups = [
        g for g in await appeals.audience(services, appeal) if g.organisation_id not in signed
    ]
    if not groups:  # every organisation in the audience signed: say so, not "0 of 0"
        await rooms.notice(
            services, N_("Every member group of {ref} has signed: no reminder was needed."), ref=ref
        )
        return
    deadline = appeal.deadline_at.strftime("%Y-%m-%d %H:%M UTC")
    texts = {
        lang: render(
            lang,
            "Reminder: appeal {ref} closes on {date} and your organisation has not signed yet. "
            "To sign, send /sign {ref} or press Sign.",
            ref=ref,
            date=deadline,
        )
        for lang in {*appeal.texts, Language.EN}
    }
    deliveries = appeals.with_sign_button(ref, groups, texts)
    await broadcast.queue_broadcast(services, BroadcastKind.REMINDER, ref, deliveries)


async def appeal_close(services: Services, ref: str) -> None:
    """At the deadline: signing closes; the rooms get the tally and the export."""
    if await _open_appeal(services, DeadlineKind.APPEAL_CLOSE, ref) is None:
        return
    await services.db.appeals.close(ref, "system")
    language = services.settings.default_language
    text = (
        render(language, "Signing for {ref} has closed.", ref=ref)
        + "\n"
        + await appeals.tally(services, ref, language)
    )
    files = [
        (name, data, mime, ref) for name, data, mime in await appeals.export_files(services, ref)
    ]
    await rooms.tell_rooms(services, text, files=files)


async def card_check(services: Services, ref: str) -> None:
    """Two minutes after a case was created: has any advisory room got its card?

    If not, the defender is told the truth in their language (the report is
    saved, the group has not received it yet, the bot keeps trying) with the
    network's emergency contact; their "alerted" confirmation still waits in
    the outbox and goes out when a room takes the card.
    """
    await services.db.deadlines.cancel(DeadlineKind.CARD_CHECK, ref)
    if await services.db.outbox.delivered(Kind.CARD, ref):
        return
    log.error("a case card has not reached any advisory room after 2 minutes")
    try:
        case = await services.db.cases.get(ref)
    except NotFound:
        return
    if case.reporter_account_id is None or case.withdrawn:
        return
    try:
        address = Address.parse(await services.db.accounts.address_of(case.reporter_account_id))
        account = await services.db.accounts.get(case.reporter_account_id)
    except NotFound:
        return
    language = account.language or services.settings.default_language
    lines = [
        render(
            language,
            "Your report is saved under the reference {ref}, but the advisory group has not "
            "received it yet. The bot keeps trying and will tell you when they have it.",
            ref=ref,
        )
    ]
    contact = services.settings.emergency_contact.strip()
    if contact:
        lines.append(
            render(language, "If you are in danger now, contact: {contact}", contact=contact)
        )
    if services.hub.serves(address.platform):
        await services.post.send_text(
            address, "\n\n".join(lines), kind=Kind.REPLY, language=language
        )
    await services.db.audit.append("system", "case.card_overdue", ref)


ACTIONS = {
    DeadlineKind.ESCALATION: lambda services, d, now: escalate(
        services, d.object_ref, d.step, d.due_at
    ),
    DeadlineKind.FOLLOWUP: lambda services, d, now: followup(services, d.object_ref),
    DeadlineKind.DIGEST: lambda services, d, now: digest(services, now),
    DeadlineKind.PURGE: lambda services, d, now: purge(services, now),
    DeadlineKind.APPEAL_REMINDER: lambda services, d, now: appeal_reminder(services, d.object_ref),
    DeadlineKind.APPEAL_CLOSE: lambda services, d, now: appeal_close(services, d.object_ref),
    DeadlineKind.CARD_CHECK: lambda services, d, now: card_check(services, d.object_ref),
    # Safety check-ins (handlers/checkin_deadlines.py).
    DeadlineKind.CHECKIN: lambda services, d, now: checkin_deadlines.due(
        services, int(d.object_ref), now
    ),
    DeadlineKind.CHECKIN_MISS: lambda services, d, now: checkin_deadlines.missed(
        services, int(d.object_ref), now
    ),
    DeadlineKind.CHECKIN_ESCALATION: checkin_deadlines.escalate,
    DeadlineKind.CHECKIN_ALARM: checkin_deadlines.escalate,
    DeadlineKind.REFERRAL_REMINDER: lambda services, d, now: referrals.remind(
        services, d.object_ref
    ),
}


async def run_due(services: Services) -> int:
    """Act on every deadline that is due, each in a unit of work of its own (its
    next step, its messages and its audit entry commit together or not at
    all); how many were acted on. One that fails is rolled back, logged
    without content and tried again at the next run."""
    now = services.clock.now()
    count = 0
    for deadline in await services.db.deadlines.due(now):
        count += 1
        action = ACTIONS.get(deadline.kind)  # type: ignore[call-overload]
        if action is None:
            log.error("unknown deadline kind %s", deadline.kind)
            await services.db.deadlines.cancel(deadline.kind, deadline.object_ref)
            continue
        try:
            await services.db.run(lambda a=action, d=deadline: a(services, d, now))  # type: ignore[misc]
        except Exception as exc:
            log.error("deadline %s failed: %s at %s", deadline.kind, type(exc).__name__, where(exc))
    return count

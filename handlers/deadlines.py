"""What happens when a deadline comes due (SPEC §4, §8).

Deadlines live in the database. ``run_due`` takes every deadline whose
time has come and acts on it; each action re-reads the database first and
does nothing when the deadline has gone stale (the case was acknowledged or
closed meanwhile). A deadline is moved on (or completed) in storage BEFORE
its alert is sent: a crash between the two loses that one alert rather than
sending it twice, and the next step of the escalation still comes.

Escalation of an unacknowledged case:
    step 0, after the urgency's time  → re-alert the rooms, mentioning the advisors
    step 1, after the same time again → private message to the escalation list
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handlers import appeals, broadcast, referrals
from handlers.i18n import render
from handlers.messages import Address
from handlers.messenger import DestinationGone, TransientSendError
from handlers.services import Services
from storage.errors import NotFound
from storage.repos.outbox import Delivery

log = logging.getLogger(__name__)

DAILY = timedelta(days=1)


async def _send(services: Services, to: Address, text: str) -> None:
    if not services.hub.serves(to.platform):
        return
    try:
        await services.hub.send_text(to, text)
    except (DestinationGone, TransientSendError) as exc:
        log.error("deadline notice not delivered: %s", type(exc).__name__)


async def escalate(services: Services, ref: str, step: int, now: datetime) -> None:
    try:
        case = await services.db.cases.get(ref)
    except NotFound:
        return
    if case.acknowledged_at is not None or case.state == "closed" or case.withdrawn:
        return
    settings = services.settings
    language = settings.default_language
    if step == 0:
        await services.db.deadlines.schedule(
            "escalation", ref, now + settings.escalation_after[case.urgency], step=1
        )
        mentions = " ".join(services.hub.mention(a) for a in settings.advisors)
        text = render(
            language,
            "⚠ Case {ref} ({urgency}) is still not acknowledged. {advisors} — /ack {ref}",
            ref=ref,
            urgency=case.urgency,
            advisors=mentions,
        )
        for room in settings.advisory_rooms:
            await _send(services, room, text)
    else:
        await services.db.deadlines.cancel("escalation", ref)
        text = render(
            language,
            "⚠ Case {ref} ({urgency}) has gone unacknowledged twice in the advisory room. "
            "Please make sure someone acknowledges it.",
            ref=ref,
            urgency=case.urgency,
        )
        for person in settings.escalation_list:
            await _send(services, person, text)
    await services.db.audit.append("system", f"case.escalation.{step}", ref)


async def followup(services: Services, ref: str) -> None:
    await services.db.deadlines.cancel("followup", ref)
    try:
        case = await services.db.cases.get(ref)
    except NotFound:
        return
    if case.withdrawn and case.state == "closed":
        return  # a closed case keeps its follow-up (/close leaves it only while it runs)
    text = render(
        services.settings.default_language, "⏰ Follow-up due for {ref}. /case {ref}", ref=ref
    )
    for room in services.settings.advisory_rooms:
        await _send(services, room, text)


async def digest(services: Services, now: datetime) -> None:
    await services.db.deadlines.schedule("digest", "daily", now + DAILY)
    language = services.settings.default_language
    open_cases = await services.db.cases.list_cases("open")
    unacked = [c for c in open_cases if c.acknowledged_at is None]
    overdue = await services.db.cases.list_cases("overdue")
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
    for room in services.settings.advisory_rooms:
        await _send(services, room, "\n".join(lines))


async def purge(services: Services, now: datetime) -> None:
    await services.db.deadlines.schedule("purge", "daily", now + DAILY)
    settings = services.settings
    await services.db.cases.purge_closed_older_than(now - settings.closed_case_retention)
    await services.db.conversations.purge_older_than(now - settings.draft_lifetime)


async def appeal_reminder(services: Services, ref: str) -> None:
    """Before the deadline: remind the groups whose organisation has not signed."""
    await services.db.deadlines.cancel("appeal-reminder", ref)
    try:
        appeal = await services.db.appeals.get(ref)
    except NotFound:
        return
    if appeal.state != "sent" or appeal.deadline_at is None:
        return
    signed = await services.db.appeals.signed_organisation_ids(ref)
    groups = [
        g
        for g in await services.db.members.audience(
            region=appeal.target_region,
            language=appeal.target_language,
            working_group=appeal.target_group,
        )
        if g.organisation_id not in signed
    ]
    deadline = appeal.deadline_at.strftime("%Y-%m-%d %H:%M UTC")
    texts = {
        lang: render(
            lang,
            "Reminder: appeal {ref} closes on {date} and your organisation has not signed yet. "
            "To sign, send /sign {ref} or press Sign.",
            ref=ref,
            date=deadline,
        )
        for lang in {*appeal.texts, "en"}
    }
    deliveries = [
        Delivery(
            d.address, d.language, d.text, ((f"sign:{ref}", render(d.language or "en", "Sign")),)
        )
        for d in broadcast.deliveries_for(groups, texts)
    ]
    await broadcast.queue_broadcast(services, "reminder", ref, deliveries)


async def appeal_close(services: Services, ref: str) -> None:
    """At the deadline: signing closes; the rooms get the tally and the export."""
    await services.db.deadlines.cancel("appeal-close", ref)
    try:
        appeal = await services.db.appeals.get(ref)
    except NotFound:
        return
    if appeal.state != "sent":
        return
    await services.db.appeals.close(ref, "system")
    language = services.settings.default_language
    text = (
        render(language, "Signing for {ref} has closed.", ref=ref)
        + "\n"
        + await appeals.tally(services, ref, language)
    )
    files = await appeals.export_files(services, ref)
    for room in services.settings.advisory_rooms:
        await _send(services, room, text)
        if services.hub.serves(room.platform):
            for name, data, mime in files:
                try:
                    await services.hub.send_file(room, name, data, mime, ref)
                except (DestinationGone, TransientSendError) as exc:
                    log.error("export not delivered: %s", type(exc).__name__)


async def run_due(services: Services) -> int:
    """Act on every deadline that is due; how many were acted on."""
    now = services.clock.now()
    count = 0
    for deadline in await services.db.deadlines.due(now):
        count += 1
        if deadline.kind == "escalation":
            await escalate(services, deadline.object_ref, deadline.step, now)
        elif deadline.kind == "followup":
            await followup(services, deadline.object_ref)
        elif deadline.kind == "digest":
            await digest(services, now)
        elif deadline.kind == "purge":
            await purge(services, now)
        elif deadline.kind == "appeal-reminder":
            await appeal_reminder(services, deadline.object_ref)
        elif deadline.kind == "appeal-close":
            await appeal_close(services, deadline.object_ref)
        elif deadline.kind == referrals.REMINDER:
            await referrals.remind(services, deadline.object_ref)
        else:
            log.error("unknown deadline kind %s", deadline.kind)
            await services.db.deadlines.cancel(deadline.kind, deadline.object_ref)
    return count

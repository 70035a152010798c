"""What a check-in deadline does when it comes due (see handlers/checkins.py).

- ``checkin`` (object: the series id; ``due``): ask now and schedule the next time;
- ``checkin-miss`` (series id): the grace period passed with no answer →
  one alert card in the rooms, and ``checkin-escalation`` starts;
- ``checkin-escalation`` / ``checkin-alarm`` (case ref): like an
  unacknowledged immediate case, the rooms again with the advisors
  mentioned, then the escalation list.

Each moves its deadline on in storage before it queues its messages, in the
deadline's unit of work; ``handlers/deadlines.py`` runs them from its table.
"""

from __future__ import annotations

from datetime import datetime

from handlers import news, rooms
from handlers.checkins import answer_options, when
from handlers.i18n import N_, render
from handlers.outgoing import Kind
from handlers.services import Services
from storage.records import CheckinState, Deadline, DeadlineKind, Urgency


async def due(services: Services, checkin_id: int, now: datetime) -> None:
    db = services.db
    checkin = await db.checkins.get(checkin_id)
    if checkin is None or checkin.state != CheckinState.ACTIVE:
        await db.deadlines.cancel(DeadlineKind.CHECKIN, str(checkin_id))
        return
    if now >= checkin.ends_at:
        await db.deadlines.cancel(DeadlineKind.CHECKIN, str(checkin_id))
        await db.checkins.set_state(checkin_id, CheckinState.ENDED, "system")
        await news.tell_defender(
            services,
            checkin.case_ref,
            f"checkin-end:{checkin_id}",
            N_("The check-ins for {ref} have ended. /checkin every 6h for 3d starts new ones."),
            ref=checkin.case_ref,
        )
        await rooms.notice(services, N_("Check-ins for {ref} ended."), ref=checkin.case_ref)
        return
    # The next time first, then this question: a crash in between loses one
    # question, never asks twice (the outbox key is the time of asking).
    await db.deadlines.schedule(DeadlineKind.CHECKIN, str(checkin_id), now + checkin.interval)
    outstanding = checkin.asked_at is not None
    await db.checkins.asked(checkin_id)
    if not outstanding:
        await db.deadlines.schedule(DeadlineKind.CHECKIN_MISS, str(checkin_id), now + checkin.grace)
    await news.tell_defender(
        services,
        checkin.case_ref,
        f"checkin-ask:{checkin_id}:{int(now.timestamp())}",
        N_("Check-in for {ref}: are you safe?"),
        options=answer_options(checkin_id),
        kind="checkin",
        ref=checkin.case_ref,
    )


async def missed(services: Services, checkin_id: int, now: datetime) -> None:
    db = services.db
    await db.deadlines.cancel(DeadlineKind.CHECKIN_MISS, str(checkin_id))
    checkin = await db.checkins.get(checkin_id)
    if checkin is None or checkin.state != CheckinState.ACTIVE or checkin.asked_at is None:
        return
    if not await db.checkins.missed(checkin_id):
        return  # an alert for this miss is already out
    due = now + services.settings.escalation_after[Urgency.IMMEDIATE]
    await db.deadlines.schedule(DeadlineKind.CHECKIN_ESCALATION, checkin.case_ref, due)
    never = render(services.settings.default_language, N_("never"))
    await rooms.notice(
        services,
        N_(
            "⚠ Missed check-in — case {ref}. The defender did not answer the check-in of "
            "{asked}. Last answer: {last}. /ack {ref} when someone is on it."
        ),
        ref=checkin.case_ref,
        asked=when(checkin.asked_at),
        last=when(checkin.last_answer_at) if checkin.last_answer_at else never,
    )


async def escalate(services: Services, deadline: Deadline, now: datetime) -> None:
    """Like an unacknowledged immediate case: the rooms again, then the escalation list."""
    settings = services.settings
    ref = deadline.object_ref
    language = settings.default_language
    if deadline.step == 0:
        # From when this step was due, not from when it ran: after the bot was down
        # past both steps, the escalation list is told at once, not 15 minutes later.
        due = deadline.due_at + settings.escalation_after[Urgency.IMMEDIATE]
        await services.db.deadlines.schedule(deadline.kind, ref, due, step=1)
        mentions = " ".join(services.hub.mention(a) for a in settings.advisors)
        text = render(
            language,
            "⚠ The check-in alert on {ref} is still not acknowledged. {advisors} — /ack {ref}",
            ref=ref,
            advisors=mentions,
        )
        targets = settings.advisory_rooms
    else:
        await services.db.deadlines.cancel(deadline.kind, ref)
        text = render(
            language,
            "⚠ A check-in alert on case {ref} has gone unacknowledged twice in the advisory "
            "room. Please make sure someone acknowledges it.",
            ref=ref,
        )
        targets = settings.escalation_list
    await rooms.tell_rooms(services, text, to=targets, kind=Kind.ALERT)
    await services.db.audit.append("system", f"checkin.escalation.{deadline.step}", ref)

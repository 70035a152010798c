"""Safety check-ins (issue 15, item 4).

``/checkin every 6h for 3d`` (the defender, on their open case) or
``/checkin C-… every 6h for 3d`` (an advisor; the defender is asked to
accept) starts a series. The defender may choose a duress word. Then, at
each time, the defender is asked "Are you safe?" with "I am safe" and "I
need help"::

    proposed ──accept──▶ word ──word or "no word"──▶ active ──stop/end──▶ stopped|ended
    (advisor)            (defender starts here)

Everything runs on database deadlines, so it survives restarts:

- ``checkin`` (object: the series id): ask now, and schedule the next one;
- ``checkin-miss`` (series id): the grace period passed without an answer →
  one alert card in the triage rooms, and ``checkin-escalation`` starts;
- ``checkin-escalation`` (case ref, cleared by any answer) and
  ``checkin-alarm`` (case ref, "I need help" or the duress word, cleared
  only by an advisor's /ack): escalated like an immediate case — the rooms
  again with the advisors mentioned, then the escalation list.

The duress word answers like "I am safe" on the defender's screen (the same
reply, word for word) and raises a silent alert in the rooms. The message
holding the word is deleted from the chat where the platform allows, so
someone reading the phone later does not learn it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from handlers import news, rooms
from handlers.i18n import N_
from handlers.messages import Option
from handlers.services import Services
from handlers.turn import Turn, resolve_choice
from storage.errors import NotFound
from storage.records import CaseState, Checkin, CheckinState, DeadlineKind, Urgency

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(minutes=30)
MAX_LENGTH = timedelta(days=90)
MAX_WORD = 64
ALARMS = (DeadlineKind.CHECKIN_ESCALATION, DeadlineKind.CHECKIN_ALARM)
DEADLINE_KINDS = (DeadlineKind.CHECKIN, DeadlineKind.CHECKIN_MISS, *ALARMS)
SAFE_REPLY = N_("Thank you. I am glad you are safe. I will ask again at {next}.")


def when(moment: datetime) -> str:
    """A time as the defender and the rooms read it."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def answer_options(checkin_id: int) -> list[tuple[str, str]]:
    return [
        (f"checkin:safe:{checkin_id}", N_("I am safe")),
        (f"checkin:help:{checkin_id}", N_("I need help")),
    ]


# -- the command ----------------------------------------------------------------


async def run(turn: Turn, args: Mapping[str, Any]) -> None:
    """``/checkin``: advisors for a case (room or private), defenders in private."""
    settings = turn.services.settings
    advisor = settings.is_advisor(turn.msg.sender)
    if not turn.msg.is_private and not (advisor and settings.is_advisory_room(turn.chat)):
        # The same refusal as handlers/triage.py, before anything is looked up.
        await turn.say(turn.t("This command is for the advisory group."))
        return
    if advisor and args.get("case"):
        await _by_advisor(turn, str(args["case"]), args)
        return
    if not turn.msg.is_private:
        await turn.say(turn.t("Usage: {usage}", usage="/checkin C-… every 6h for 3d"))
        return
    await _by_defender(turn, args)


def _schedule(turn: Turn, args: Mapping[str, Any]) -> tuple[timedelta, timedelta] | str:
    interval, length = args.get("interval"), args.get("length")
    if interval is None or length is None:
        return turn.t("Usage: {usage}", usage="/checkin [C-…] every 6h for 3d")
    if interval < MIN_INTERVAL or length > MAX_LENGTH or length < interval:
        return turn.t(
            "Check-ins can be at most every 30 minutes, for at most 90 days, and must "
            "last longer than one interval."
        )
    return interval, length


async def _by_defender(turn: Turn, args: Mapping[str, Any]) -> None:
    db = turn.services.db
    mine = [c for c in await db.cases.cases_of(turn.account.id) if c.state != CaseState.CLOSED]
    wanted = args.get("case")
    if wanted is not None and wanted not in {c.ref for c in mine}:
        await turn.say(turn.t("You have no case {ref}. /status lists your cases.", ref=wanted))
        return
    if args["action"] == "stop":
        live = await db.checkins.live_of(turn.account.id)
        stopped = [c for c in live if wanted is None or c.case_ref == wanted]
        if not stopped:
            await turn.say(turn.t("You have no check-ins running."))
            return
        for checkin in stopped:
            await stop(turn.services, checkin, "defender")
        await turn.say(turn.t("Check-ins stopped."))
        return
    if wanted is None:
        if not mine:
            await turn.say(
                turn.t(
                    "Check-ins belong to a case, so that the advisory group knows whom to "
                    "help. Send /report (or /sos) first."
                )
            )
            return
        if len(mine) > 1:
            refs = ", ".join(c.ref for c in mine)
            await turn.say(
                turn.t("Which case? /checkin C-… every 6h for 3d — your cases: {refs}", refs=refs)
            )
            return
        wanted = mine[0].ref
    schedule = _schedule(turn, args)
    if isinstance(schedule, str):
        await turn.say(schedule)
        return
    checkin = await _start_series(turn, turn.account.id, wanted, "defender", schedule)
    await ask_word(turn, checkin)


async def _start_series(
    turn: Turn, account_id: int, ref: str, proposed_by: str, schedule: tuple[timedelta, timedelta]
) -> Checkin:
    """Start a series of check-ins (every ``schedule[0]`` for ``schedule[1]``); the
    series it replaces, if any, loses its pending deadlines."""
    interval, length = schedule
    checkin, replaced = await turn.services.db.checkins.start(
        account_id,
        ref,
        proposed_by=proposed_by,
        interval=interval,
        length=length,
        grace=turn.services.settings.checkin_grace,
    )
    await _cancel_deadlines(turn.services, replaced)
    return checkin


async def _by_advisor(turn: Turn, ref: str, args: Mapping[str, Any]) -> None:
    db = turn.services.db
    try:
        case = await db.cases.get(ref)
    except NotFound:
        await turn.say(turn.t("There is no case {ref}.", ref=ref))
        return
    if args["action"] == "stop":
        live = await db.checkins.live_for_case(ref)
        for checkin in live:
            await stop(turn.services, checkin, "advisor")
            await news.tell_defender(
                turn.services,
                ref,
                f"checkin-stop:{checkin.id}",
                N_("The advisory group ended the check-ins for your case {ref}."),
                ref=ref,
            )
        await turn.say(turn.t("Check-ins for {ref} stopped.", ref=ref))
        return
    schedule = _schedule(turn, args)
    if isinstance(schedule, str):
        await turn.say(schedule)
        return
    if case.reporter_account_id is None or case.withdrawn or case.state == CaseState.CLOSED:
        await turn.say(
            turn.t("The defender of {ref} cannot be reached (withdrawn or unreachable).", ref=ref)
        )
        return
    checkin = await _start_series(turn, case.reporter_account_id, ref, "advisor", schedule)
    await news.tell_defender(
        turn.services,
        ref,
        f"checkin-proposed:{checkin.id}",
        N_(
            "The advisory group proposes safety check-ins for your case {ref}: every "
            "{interval} until {end}. Each time I will ask whether you are safe; if you do not "
            "answer within {grace}, they are alerted. Do you accept?"
        ),
        options=[
            (f"checkin:accept:{checkin.id}", N_("Accept")),
            (f"checkin:decline:{checkin.id}", N_("Decline")),
        ],
        ref=ref,
        interval=_span(schedule[0]),
        end=when(checkin.ends_at),
        grace=_span(checkin.grace),
    )
    await turn.say(
        turn.t("Check-ins proposed to the defender of {ref}. You will see their answer.", ref=ref)
    )


async def ask_word(turn: Turn, checkin: Checkin) -> None:
    await turn.ask(
        turn.t(
            "Optional: choose a duress word. If someone ever forces you to answer a check-in, "
            "answer with that word: your screen will show the same as for “I am safe”, and the "
            "advisory group will be alerted silently. Type the word now, or press “No duress word”."
        ),
        [Option(f"checkin:noword:{checkin.id}", turn.t("No duress word"))],
    )


async def stop(services: Services, checkin: Checkin, actor: str) -> None:
    await services.db.checkins.set_state(checkin.id, CheckinState.STOPPED, actor)
    await _cancel_deadlines(services, [checkin.id])
    await services.db.deadlines.cancel(DeadlineKind.CHECKIN_ESCALATION, checkin.case_ref)
    message = (
        N_("Check-ins for {ref} were stopped by the defender.")
        if actor == "defender"
        else N_("Check-ins for {ref} were stopped by the advisory group.")
    )
    await rooms.notice(services, message, ref=checkin.case_ref)


async def _cancel_deadlines(services: Services, ids: list[int]) -> None:
    for checkin_id in ids:
        for kind in (DeadlineKind.CHECKIN, DeadlineKind.CHECKIN_MISS):
            await services.db.deadlines.cancel(kind, str(checkin_id))


async def acknowledged(services: Services, ref: str) -> None:
    """An advisor took the case on: its check-in alerts stop escalating."""
    for kind in ALARMS:
        await services.db.deadlines.cancel(kind, ref)


# -- the defender's answers --------------------------------------------------------


async def on_message(turn: Turn) -> bool:
    """A private message that may answer a check-in; False when it is not one."""
    live = await turn.services.db.checkins.live_of(turn.account.id)
    if not live:
        return False
    choice = turn.msg.choice or ""
    if choice.startswith("checkin:"):
        _, action, ident = [*choice.split(":"), "", ""][:3]
        checkin = next((c for c in live if str(c.id) == ident), None)
        if checkin is None:
            await turn.say(turn.t("That check-in is no longer running."))
            return True
        await _act(turn, checkin, action)
        return True
    if turn.msg.choice is not None:
        return False
    text = turn.msg.text.strip()
    if not text:
        return False
    for checkin in live:
        if checkin.state == CheckinState.WORD:
            await _set_word(turn, checkin, text)
            return True
    for checkin in live:
        if checkin.state == CheckinState.ACTIVE and checkin.asked_at is not None:
            if await turn.services.db.checkins.is_duress(checkin.id, text):
                await _duress(turn, checkin)
                return True
            options = [Option(k, turn.t(label)) for k, label in answer_options(checkin.id)]
            key = resolve_choice(turn.msg, options)
            if key is not None:
                await _act(turn, checkin, key.split(":")[1])
                return True
        if checkin.state == CheckinState.PROPOSED:
            options = [
                Option(f"checkin:accept:{checkin.id}", turn.t("Accept")),
                Option(f"checkin:decline:{checkin.id}", turn.t("Decline")),
            ]
            key = resolve_choice(turn.msg, options)
            if key is not None:
                await _act(turn, checkin, key.split(":")[1])
                return True
    return False


async def _act(turn: Turn, checkin: Checkin, action: str) -> None:
    db = turn.services.db
    if action == "accept" and checkin.state == CheckinState.PROPOSED:
        updated = await db.checkins.set_state(checkin.id, CheckinState.WORD, "defender")
        await ask_word(turn, updated)
    elif action == "decline" and checkin.state == CheckinState.PROPOSED:
        await db.checkins.set_state(checkin.id, CheckinState.STOPPED, "defender")
        await turn.say(turn.t("No check-ins. You can start them any time with /checkin."))
        await rooms.notice(
            turn.services, N_("The defender declined check-ins for {ref}."), ref=checkin.case_ref
        )
    elif action == "noword" and checkin.state == CheckinState.WORD:
        await _activate(turn, checkin, None)
    elif action in ("safe", "help") and checkin.state == CheckinState.ACTIVE:
        await (_safe(turn, checkin) if action == "safe" else _help(turn, checkin))
    else:
        await turn.say(turn.t("That check-in is no longer running."))


async def _set_word(turn: Turn, checkin: Checkin, text: str) -> None:
    labels = {turn.t(label).casefold() for _, label in answer_options(checkin.id)}
    # A word that is also an answer ("1", "I am safe") would alert on every answer.
    if (
        text.startswith(("/", "!"))
        or len(text) > MAX_WORD
        or "\n" in text
        or text.isdigit()
        or text.casefold() in labels
    ):
        await turn.say(
            turn.t("The duress word must be one short line: not a command, a number or an answer.")
        )
        await ask_word(turn, checkin)
        return
    await _activate(turn, checkin, text)
    if turn.msg.message_id is not None:
        # The word leaves the chat's history (queued like every message).
        await turn.services.post.delete_messages(turn.chat, [str(turn.msg.message_id)])


async def _activate(turn: Turn, checkin: Checkin, word: str | None) -> None:
    services = turn.services
    active = await services.db.checkins.activate(checkin.id, word)
    first = services.clock.now() + active.interval
    await services.db.deadlines.schedule(DeadlineKind.CHECKIN, str(active.id), first)
    lines = [
        turn.t(
            "Check-ins are on for {ref}: every {interval} until {end}. The first is at {first}. "
            "/checkin stop ends them.",
            ref=active.case_ref,
            interval=_span(active.interval),
            end=when(active.ends_at),
            first=when(first),
        )
    ]
    if word:
        lines.append(turn.t("Your duress word is set. Its message was deleted from this chat."))
    await turn.say("\n".join(lines))
    await rooms.notice(
        services,
        N_("Check-ins set up for {ref}: every {interval} until {end}."),
        ref=active.case_ref,
        interval=_span(active.interval),
        end=when(active.ends_at),
    )


async def _safe(turn: Turn, checkin: Checkin, *, silent_alert: bool = False) -> None:
    services = turn.services
    before = await services.db.checkins.answered(checkin.id)
    await services.db.deadlines.cancel(DeadlineKind.CHECKIN_MISS, str(checkin.id))
    if not silent_alert:
        await services.db.deadlines.cancel(DeadlineKind.CHECKIN_ESCALATION, checkin.case_ref)
    upcoming = await services.db.deadlines.get(DeadlineKind.CHECKIN, str(checkin.id))
    next_at = upcoming.due_at if upcoming else services.clock.now() + checkin.interval
    await turn.say(turn.t(SAFE_REPLY, next=when(next_at)))
    if before.missed_at is not None and not silent_alert:
        await rooms.notice(
            services,
            N_("The defender of {ref} answered the missed check-in: safe."),
            ref=checkin.case_ref,
        )


async def _duress(turn: Turn, checkin: Checkin) -> None:
    """Looks exactly like "I am safe" to whoever holds the phone."""
    await _safe(turn, checkin, silent_alert=True)
    await _alarm(
        turn.services,
        checkin.case_ref,
        N_(
            "🔕 SILENT ALERT — case {ref}. The defender answered a check-in with their duress "
            "word: they may be under coercion. Their screen shows “I am safe”. Do not contact "
            "them in a way that reveals this alert. /ack {ref} when someone is on it."
        ),
    )


async def _help(turn: Turn, checkin: Checkin) -> None:
    services = turn.services
    await services.db.checkins.answered(checkin.id)
    await services.db.deadlines.cancel(DeadlineKind.CHECKIN_MISS, str(checkin.id))
    await services.db.deadlines.cancel(DeadlineKind.CHECKIN_ESCALATION, checkin.case_ref)
    await _alarm(
        services,
        checkin.case_ref,
        N_("🆘 SOS — case {ref}: the defender answered a check-in with “I need help”. /ack {ref}"),
    )
    await turn.say(
        turn.t(
            "The advisory group has been alerted. Write here what is happening, if you can: "
            "it goes to them under {ref}.",
            ref=checkin.case_ref,
        )
    )


async def _alarm(services: Services, ref: str, message: str) -> None:
    """An alert that only an advisor's /ack clears, escalated like an immediate case."""
    await services.db.deadlines.schedule(
        DeadlineKind.CHECKIN_ALARM,
        ref,
        services.clock.now() + services.settings.escalation_after[Urgency.IMMEDIATE],
    )
    await services.db.audit.append("system", "checkin.alert", ref)
    await rooms.notice(services, message, ref=ref)

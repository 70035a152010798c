"""``limits.reports_per_day``: new cases per account in any 24 hours (SPEC §7).

A person in danger is never refused: over the limit, an /sos or a
finished report becomes an update of the account's latest open case, and
the advisory rooms are alerted on that case. What the limit stops is one
account making dozens of cases, cards and escalation timers (/sos then
/cancel in a loop).

The count reads the account's own cases, so it needs no table of its own;
/forget unlinks the cases and so starts the count again (a flood through
/forget needs a confirmation per round, and each round erases the cases it
made).
"""

from __future__ import annotations

from datetime import timedelta

from handlers import rooms
from handlers.conversation.record import Draft
from handlers.i18n import N_, render
from handlers.outgoing import Kind as Outgoing
from handlers.turn import Turn
from storage.records import CaseState

WINDOW = timedelta(days=1)


async def case_to_update(turn: Turn) -> str | None:
    """The latest open case of the account when it may not open another today.

    None: a new case may be created (under the limit, or no open case to
    add to: then the report must still become a case).
    """
    cases = await turn.services.db.cases.cases_of(turn.account.id)  # newest first
    since = turn.services.clock.now() - WINDOW
    recent = sum(1 for case in cases if case.created_at > since)
    if recent < turn.services.settings.reports_per_day:
        return None
    open_cases = [case for case in cases if case.state != CaseState.CLOSED and not case.withdrawn]
    return open_cases[0].ref if open_cases else None


async def raise_again(turn: Turn, ref: str, text: str) -> None:
    """Add ``text`` to ``ref`` as an SOS update, alert the advisory rooms, and tell
    the defender once a room has the alarm (held in the outbox until then, like
    the "alerted" of a new case)."""
    event = await turn.services.db.cases.add_update(ref, turn.account.id, text, sos=True)
    alarm = f"{ref}/sos{event.seq}"  # one alarm per raise: the outbox keys rows by ref
    message = render(
        turn.services.settings.default_language,
        N_("🆘 SOS again on {ref}: the defender raised the alarm. /case {ref} shows it."),
        ref=ref,
    )
    await rooms.tell_rooms(turn.services, message, kind=Outgoing.ALARM, ref=alarm)
    await turn.services.post.send_text(
        turn.chat,
        turn.t(
            "The advisory group has been alerted again about {ref}. "
            "/update {ref} adds information.",
            ref=ref,
        ),
        kind=Outgoing.CONFIRM,
        ref=alarm,
        language=turn.language,
        held=True,
    )


async def add_report(turn: Turn, ref: str, draft: Draft) -> None:
    """A finished report over the limit: its answers become an update of ``ref``."""
    parts = ["\n\n".join(draft.what)]
    for label, value in (
        ("Where", draft.where),
        ("Who is at risk", draft.who),
        ("Contact", draft.contact),
    ):
        if value:
            parts.append(f"{label}: {value}")
    await turn.services.db.cases.add_update(ref, turn.account.id, "\n\n".join(parts), draft.files())
    await rooms.notice(
        turn.services,
        N_("The defender added information to {ref}. /case {ref} shows it."),
        ref=ref,
    )

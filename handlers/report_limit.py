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
from typing import Any

from handlers import cards
from handlers.i18n import N_
from handlers.turn import Turn
from storage.records import AttachmentInput

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
    open_cases = [case for case in cases if case.state != "closed" and not case.withdrawn]
    return open_cases[0].ref if open_cases else None


async def raise_again(
    turn: Turn, ref: str, text: str, attachments: list[AttachmentInput] | None = None
) -> None:
    """Add ``text`` to ``ref`` as an SOS update and alert the advisory rooms."""
    await turn.services.db.cases.add_update(ref, turn.account.id, text, attachments or [], sos=True)
    await cards.tell_rooms(
        turn.services,
        N_("🆘 SOS again on {ref}: the defender raised the alarm. /case {ref} shows it."),
        ref=ref,
    )


async def add_report(turn: Turn, ref: str, draft: dict[str, Any]) -> None:
    """A finished report over the limit: its answers become an update of ``ref``."""
    parts = ["\n\n".join(draft.get("what", []))]
    for label, key in (("Where", "where"), ("Who is at risk", "who"), ("Contact", "contact")):
        if draft.get(key):
            parts.append(f"{label}: {draft[key]}")
    await turn.services.db.cases.add_update(
        ref, turn.account.id, "\n\n".join(parts), cards.attachments_from_draft(draft)
    )
    await cards.tell_rooms(
        turn.services,
        N_("The defender added information to {ref}. /case {ref} shows it."),
        ref=ref,
    )

"""Finding cases: /cases with filters, and /agenda for the advisory group's meeting.

    /cases state=open country=CO threat=death_threat assigned=me overdue
    /agenda

The filters read the sealed tags, so they are applied here after storage
has opened them (at most ``LIST_LIMIT`` cases are read). The old one-word
filters (``open``, ``mine``, ``overdue``, ``all``) still work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from handlers import triage, vocab
from handlers.commands import Arg, ArgKind, CommandSpec
from handlers.turn import Turn
from storage.records import CaseState
from storage.records_casework import CaseFile

FILTERS = (
    "state=… country=… threat=… perpetrator=… profile=… relation=… group=… assigned=me overdue"
)
CASES_SPEC = CommandSpec("cases", (Arg(FILTERS, ArgKind.REST, optional=True),))
AGENDA_SPEC = CommandSpec("agenda")
SHOWN = 60  # lines of a list; the rest is counted
AHEAD = timedelta(days=7)
"""/agenda lists the follow-ups due within the week ahead (a weekly meeting)."""


class FilterError(ValueError):
    pass


def _line(turn: Turn, file: CaseFile) -> str:
    case = file.case
    ack = turn.t("acknowledged") if case.acknowledged_at else turn.t("NOT acknowledged")
    tags = " ".join(",".join(file.tags[key]) for key in ("country", "threat") if file.tags.get(key))
    parts = [case.ref, case.urgency, case.priority, case.state, ack, tags]
    return " · ".join(p for p in parts if p)


async def _assigned_refs(turn: Turn, who: str) -> set[str]:
    if who == "me":
        actor = str(turn.msg.sender)
    else:
        advisor = triage.resolve_advisor(turn, who)
        if advisor is None:
            raise FilterError(turn.t("{person} is not one of the advisors.", person=who))
        actor = str(advisor)
    return {c.ref for c in await turn.services.db.cases.list_cases("mine", actor)}


async def select(turn: Turn, words: list[str]) -> list[CaseFile]:
    """The cases matching every filter word (``FilterError`` names a bad one)."""
    state = "open"
    wanted: dict[str, str] = {}
    overdue = False
    assigned: str | None = None
    for word in words:
        key, sep, value = word.partition("=")
        key = key.casefold()
        if not sep and key in ("open", "all", "overdue", "mine"):
            overdue |= key == "overdue"
            assigned = "me" if key == "mine" else assigned
            state = "all" if key == "all" else state
        elif key == "state" and value.casefold() in ("open", "all", *CaseState):
            state = value.casefold()
        elif key == "assigned" and value:
            assigned = value
        elif key in vocab.TAG_KEYS and value:
            wanted[key] = value.upper() if key == "country" else value.casefold()
        else:
            raise FilterError(
                turn.t("Unknown filter {word}. Filters: {filters}", word=word, filters=FILTERS)
            )
    files = await turn.services.db.casefile.files(include_closed=state not in ("open",))
    now = turn.services.clock.now()
    mine = await _assigned_refs(turn, assigned) if assigned else None
    found = []
    for file in files:
        case = file.case
        if state not in ("open", "all") and case.state != state:
            continue
        if overdue and not (case.followup_at is not None and case.followup_at <= now):
            continue
        if mine is not None and case.ref not in mine:
            continue
        if any(value not in file.tags.get(key, ()) for key, value in wanted.items()):
            continue
        found.append(file)
    return found


async def cases(turn: Turn, args: Mapping[str, Any]) -> None:
    words = str(args.get(FILTERS) or "").split()
    try:
        found = await select(turn, words)
    except FilterError as error:
        await turn.say(str(error))
        return
    await turn.services.db.audit.append(str(turn.msg.sender), "cases.list", None, None)
    if not found:
        await turn.say(turn.t("No cases."))
        return
    lines = [turn.t("Cases ({which}):", which=" ".join(words) or "open")]
    lines += [_line(turn, f) for f in found[:SHOWN]]
    if len(found) > SHOWN:
        lines.append(turn.t("… and {count} more.", count=len(found) - SHOWN))
    await turn.say("\n".join(lines))


async def agenda(turn: Turn, args: Mapping[str, Any]) -> None:
    """What needs a decision at the meeting, one section each, "none" where empty."""
    services = turn.services
    now = services.clock.now()
    await services.db.audit.append(str(turn.msg.sender), "agenda.show", None, None)
    files = await services.db.casefile.files(include_closed=True)
    open_files = [f for f in files if f.case.state != "closed"]
    drafts = await services.db.appeals.list_appeals("draft")
    quiet = await services.db.partners.open_without_news(
        now - services.settings.casework.referral_reminder_after
    )
    due = [f for f in files if f.case.followup_at is not None and f.case.followup_at <= now + AHEAD]
    sections: list[tuple[str, list[str]]] = [
        (
            turn.t("Not acknowledged:"),
            [_line(turn, f) for f in open_files if f.case.acknowledged_at is None],
        ),
        (
            turn.t("Appeals awaiting approval:"),
            [
                turn.t(
                    "{ref}: {count} of {required} approvals",
                    ref=a.ref,
                    count=a.approvals,
                    required=services.settings.approvals_required,
                )
                for a in drafts
            ],
        ),
        (
            turn.t("Referrals without news:"),
            [
                f"{r.ref} · {r.case_ref} · {r.partner or '-'} · {r.kind} · {r.state} · "
                + r.updated_at.strftime("%Y-%m-%d")
                for r in quiet
            ],
        ),
        (
            turn.t("Check-ins missed (follow-up date passed):"),
            [_due(f, now) for f in due if _missed(f, now)],
        ),
        (
            turn.t("Follow-ups due this week:"),
            [_due(f, now) for f in due if not _missed(f, now)],
        ),
    ]
    lines = [turn.t("Agenda for {date}", date=now.strftime("%Y-%m-%d"))]
    for title, items in sections:
        lines += ["", title, *(items[:SHOWN] or [turn.t("none")])]
        if len(items) > SHOWN:
            lines.append(turn.t("… and {count} more.", count=len(items) - SHOWN))
    await turn.say("\n".join(lines))


def _missed(file: CaseFile, now: datetime) -> bool:
    return file.case.followup_at is not None and file.case.followup_at <= now


def _due(file: CaseFile, now: datetime) -> str:
    assert file.case.followup_at is not None
    return f"{file.case.ref} · {file.case.state} · {file.case.followup_at.strftime('%Y-%m-%d')}"

"""The coordinator's casework commands: structured fields, outcomes, follow-ups.

    /tag C-… country=CO threat=death_threat,surveillance relation=member
    /close C-… outcome=resolved [reason]
    /followup C-… risk=high [note]

with their declarations (``handlers.command_table`` lists them, with /refer,
/referral, /cases, /agenda and /stats from ``referrals``, ``agenda`` and
``stats``). Like the other advisors' commands they are refused to anyone
else before any reference is read, and every change is in the case history
and the audit log (storage writes both in the turn's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from handlers import cards, news, places, vocab
from handlers.commands import Arg, ArgKind, CommandSpec
from handlers.turn import Turn
from storage.errors import Conflict
from storage.records import DeadlineKind

CASE = Arg("case", ArgKind.CASE_REF, optional=True)  # a reply to a card may omit it
OUTCOME_CHOICES = tuple(f"outcome={o}" for o in vocab.OUTCOMES)
RISK_CHOICES = tuple(f"risk={r}" for r in vocab.RISKS)

CASE_SPECS = {
    # /close and /followup replace triage's: with an outcome, with a risk.
    "tag": CommandSpec(
        "tag",
        (CASE, Arg("country=… threat=… perpetrator=… profile=… relation=… group=…", ArgKind.REST)),
    ),
    "close": CommandSpec(
        "close",
        (
            CASE,
            Arg("outcome", ArgKind.CHOICE, choices=OUTCOME_CHOICES),
            Arg("reason", ArgKind.REST, optional=True),
        ),
    ),
    "followup": CommandSpec(
        "followup",
        (
            CASE,
            Arg("risk", ArgKind.CHOICE, choices=RISK_CHOICES),
            Arg("note", ArgKind.REST, optional=True),
        ),
    ),
}

TAG_ARG = CASE_SPECS["tag"].args[1].name


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


async def tag(turn: Turn, ref: str, args: Mapping[str, Any]) -> str:
    casework = turn.services.settings.casework
    try:
        changes = vocab.parse_tags(str(args[TAG_ARG]).split(), casework)
    except vocab.TagError as error:
        if error.key == "key":
            return turn.t(
                "Unknown field {field}. Fields: {allowed}",
                field=error.value,
                allowed=", ".join(vocab.TAG_KEYS),
            )
        if not error.allowed:
            return turn.t("No values are configured for {field}.", field=error.key)
        allowed = error.allowed if len(error.allowed) <= 40 else ("ISO 3166-1 alpha-2: CO, MX, …",)
        return turn.t(
            "{value} is not allowed for {field}. Allowed: {allowed}",
            value=error.value,
            field=error.key,
            allowed=", ".join(allowed),
        )
    tags = await turn.services.db.casefile.set_tags(ref, str(turn.msg.sender), changes)
    # The other rooms learn it under the case reference (this one has the reply).
    here = None if turn.msg.is_private else turn.msg.chat
    await cards.tags_changed(turn.services, ref, tags, skip=here)
    if not await places.content_here(turn):  # tags are content: place, profile
        return "\n".join([turn.t("{ref} tagged.", ref=ref), places.withheld(turn)])
    lines = [turn.t("{ref} tagged.", ref=ref), *vocab.tag_lines(tags, turn.language)]
    return "\n".join(lines)


async def close(turn: Turn, ref: str, args: Mapping[str, Any]) -> str:
    services = turn.services
    outcome = str(args["outcome"]).split("=", 1)[1]
    casework = services.settings.casework
    try:
        await services.db.casefile.close(
            ref, str(turn.msg.sender), outcome, args.get("reason"), casework.region
        )
    except Conflict:
        return turn.t("{ref} is already closed.", ref=ref)
    await services.db.deadlines.cancel(DeadlineKind.ESCALATION, ref)
    answer = turn.t(
        "{ref} closed. Outcome: {outcome}.",
        ref=ref,
        outcome=vocab.label("outcome", outcome, turn.language),
    )
    case = (await services.db.casefile.get(ref)).case
    if case.closed_at is not None:  # the defender hears it, and how to reopen
        await news.closed(services, ref, case.closed_at)
    if case.followup_at is not None and case.followup_at > services.clock.now():
        # The follow-up period runs on: /ask still reaches the defender until then.
        return (
            answer
            + "\n"
            + turn.t(
                "The follow-up stays due on {date}; until then /ask still reaches the defender.",
                date=_stamp(case.followup_at),
            )
        )
    await services.db.deadlines.cancel(DeadlineKind.FOLLOWUP, ref)
    return answer


async def followup(turn: Turn, ref: str, args: Mapping[str, Any]) -> str:
    services = turn.services
    risk = str(args["risk"]).split("=", 1)[1]
    due = services.clock.now() + services.settings.casework.followup_after[risk]
    await services.db.casefile.reassess(ref, str(turn.msg.sender), risk, args.get("note"), due)
    await services.db.deadlines.schedule(DeadlineKind.FOLLOWUP, ref, due)
    return turn.t(
        "Follow-up of {ref} recorded (risk: {risk}). Next reassessment: {date}.",
        ref=ref,
        risk=vocab.label("risk", risk, turn.language),
        date=due.strftime("%Y-%m-%d %H:%M UTC"),
    )

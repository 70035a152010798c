"""The coordinator's casework commands: structured fields, outcomes, follow-ups.

    /tag C-… country=CO threat=death_threat,surveillance relation=member
    /close C-… outcome=resolved [reason]
    /followup C-… risk=high [note]

and the table of every casework command (with /refer, /referral, /cases,
/agenda and /stats from ``referrals``, ``agenda`` and ``stats``). Like the
other advisors' commands they are refused to anyone else before any
reference is read, and every change is in the case history and the audit
log (storage writes both in the change's transaction).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from handlers import agenda, referrals, stats, triage, vocab
from handlers.commands import Arg, ArgKind, CommandSpec
from handlers.turn import Turn
from storage.errors import Conflict, NotFound

CASE = triage.CASE
OUTCOME_CHOICES = tuple(f"outcome={o}" for o in vocab.OUTCOMES)
RISK_CHOICES = tuple(f"risk={r}" for r in vocab.RISKS)

CASE_SPECS = {
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
    "refer": referrals.REFER_SPEC,
}
SPECS: dict[str, CommandSpec] = {
    **CASE_SPECS,
    "referral": referrals.REFERRAL_SPEC,
    "cases": agenda.CASES_SPEC,
    "agenda": agenda.AGENDA_SPEC,
    "stats": stats.STATS_SPEC,
}
"""Every casework command; /close, /followup, /refer and /cases replace triage's."""

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
    await services.db.deadlines.cancel("escalation", ref)
    answer = turn.t(
        "{ref} closed. Outcome: {outcome}.",
        ref=ref,
        outcome=vocab.label("outcome", outcome, turn.language),
    )
    case = (await services.db.casefile.get(ref)).case
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
    await services.db.deadlines.cancel("followup", ref)
    return answer


async def followup(turn: Turn, ref: str, args: Mapping[str, Any]) -> str:
    services = turn.services
    risk = str(args["risk"]).split("=", 1)[1]
    due = services.clock.now() + services.settings.casework.followup_after[risk]
    await services.db.casefile.reassess(ref, str(turn.msg.sender), risk, args.get("note"), due)
    await services.db.deadlines.schedule("followup", ref, due)
    return turn.t(
        "Follow-up of {ref} recorded (risk: {risk}). Next reassessment: {date}.",
        ref=ref,
        risk=vocab.label("risk", risk, turn.language),
        date=due.strftime("%Y-%m-%d %H:%M UTC"),
    )


CaseAction = Callable[[Turn, str, Mapping[str, Any]], Awaitable[str]]
CASE_ACTIONS: dict[str, CaseAction] = {
    "tag": tag,
    "close": close,
    "followup": followup,
    "refer": referrals.refer,
}
OTHER_ACTIONS: dict[str, Callable[[Turn, Mapping[str, Any]], Awaitable[None]]] = {
    "referral": referrals.referral,
    "cases": agenda.cases,
    "agenda": agenda.agenda,
    "stats": stats.post_stats,
}


async def run(turn: Turn, name: str, args: Mapping[str, Any]) -> None:
    if not triage.allowed(turn):  # the router checked too; a second lock costs nothing
        await triage.refuse(turn)
        return
    if name in OTHER_ACTIONS:
        await OTHER_ACTIONS[name](turn, args)
        return
    ref = await triage.case_ref(turn, args)
    if ref is None:
        await turn.say(
            turn.t(
                "Which case? Give the reference or reply to its card: {usage}",
                usage=SPECS[name].usage(),
            )
        )
        return
    try:
        answer = await CASE_ACTIONS[name](turn, ref, args)
    except NotFound:
        answer = turn.t("There is no case {ref}.", ref=ref)
    await turn.say(answer)

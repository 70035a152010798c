"""The advisory group's commands (docs/spec.md §4).

Only configured advisors may use them, and only in an advisory room or a
private chat with the bot. Anyone else gets the same short refusal, given
before any reference is looked at, so it reveals nothing, not even whether
a case exists. In a room, a reply to a case card may leave out the
reference. Every change lands in the case history and the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from handlers import advisors, checkins, files, news, relay, views
from handlers.commands import CommandSpec
from handlers.i18n import N_
from handlers.messages import Address
from handlers.turn import Turn
from storage.errors import Conflict, NotFound
from storage.records import CaseState, DeadlineKind, Verification

# An advisor's verdict: every verification but the initial "unverified".
VERDICTS = tuple(v for v in Verification if v is not Verification.UNVERIFIED)


def allowed(turn: Turn) -> bool:
    settings = turn.services.settings
    if not settings.is_advisor(turn.msg.sender):
        return False
    return turn.msg.is_private or settings.is_advisory_room(turn.msg.chat)


async def refuse(turn: Turn) -> None:
    await turn.say(turn.t("This command is for the advisory group."))


async def case_ref(turn: Turn, args: Mapping[str, Any]) -> str | None:
    """The reference given, or the one of the card this message replies to."""
    if args.get("case"):
        return str(args["case"])
    if turn.msg.reply_to and not turn.msg.is_private:
        return await turn.services.db.cases.case_for_card(str(turn.msg.chat), turn.msg.reply_to)
    return None


def resolve_advisor(turn: Turn, person: str) -> Address | None:
    """A display name or handle (a unique prefix is enough) → an advisor."""
    return advisors.resolve(turn.services, person).advisor


async def _taken_on(turn: Turn, ref: str) -> None:
    """The defender hears that someone handles the case; check-in alerts stop escalating."""
    await news.acknowledged(turn.services, ref)
    await checkins.acknowledged(turn.services, ref)


Action = Callable[[Turn, str, Mapping[str, Any]], Awaitable[str | None]]


async def ack(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.acknowledge(ref, str(turn.msg.sender))
    await turn.services.db.deadlines.cancel(DeadlineKind.ESCALATION, ref)
    await _taken_on(turn, ref)
    return turn.t("{ref} acknowledged. Escalation stopped.", ref=ref)


async def claim(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.claim(ref, str(turn.msg.sender))
    await turn.services.db.deadlines.cancel(DeadlineKind.ESCALATION, ref)
    await _taken_on(turn, ref)
    return turn.t("You took {ref}.", ref=ref)


async def assign(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    match = advisors.resolve(turn.services, args["person"])
    if match.advisor is None:
        if match.candidates:
            names = ", ".join(advisors.display_name(turn.services, a) for a in match.candidates)
            return turn.t(
                "{person} fits several advisors: {names}.", person=args["person"], names=names
            )
        return turn.t("{person} is not one of the advisors.", person=args["person"])
    await turn.services.db.cases.assign(ref, str(turn.msg.sender), str(match.advisor))
    await news.acknowledged(turn.services, ref)
    name = advisors.display_name(turn.services, match.advisor)
    return turn.t("{ref} assigned to {person}.", ref=ref, person=name)


async def priority(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.set_priority(ref, str(turn.msg.sender), args["level"])
    return turn.t("{ref}: priority {value}.", ref=ref, value=args["level"])


async def state(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    if args["state"] == CaseState.CLOSED:
        return turn.t("Use /close {ref} with a reason to close a case.", ref=ref)
    await turn.services.db.cases.set_state(ref, str(turn.msg.sender), args["state"])
    return turn.t("{ref}: state {value}.", ref=ref, value=args["state"])


async def verify(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.set_verification(ref, str(turn.msg.sender), args["verdict"])
    return turn.t("{ref}: verification {value}.", ref=ref, value=args["verdict"])


async def note(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.add_note(ref, str(turn.msg.sender), args["text"])
    return turn.t("Note added to {ref}.", ref=ref)


async def ask(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.services.db.cases.ask(ref, str(turn.msg.sender), args["text"])
    delivered = await relay.to_defender(turn.services, ref, args["text"])
    if not delivered:
        return turn.t(
            "The defender of {ref} cannot be reached (withdrawn or unreachable).", ref=ref
        )
    return turn.t("On its way to the defender of {ref}.", ref=ref)


async def show(turn: Turn, ref: str, args: Mapping[str, Any]) -> str | None:
    await turn.say(await views.case_view(turn, ref))
    # The files the view announces ("Files: n (sent below)"), those of updates included.
    case = await turn.services.db.cases.get(ref)
    await files.to_chat(turn.services, turn.chat, ref, case.attachments, turn.msg.is_private)
    return None


async def run(turn: Turn, spec: CommandSpec, action: Action, args: Mapping[str, Any]) -> None:
    """A command on one case: find the case (given, or the card replied to), act."""
    if not allowed(turn):
        await refuse(turn)
        return
    ref = await case_ref(turn, args)
    if ref is None:
        await turn.say(
            turn.t(
                "Which case? Give the reference or reply to its card: {usage}",
                usage=spec.usage(),
            )
        )
        return
    try:
        answer = await action(turn, ref, args)
    except NotFound:
        answer = turn.t("There is no case {ref}.", ref=ref)
    except Conflict:
        answer = turn.t("{ref} cannot be changed in its current state.", ref=ref)
    if answer:
        await turn.say(answer)


def next_digest(now: datetime, at: str) -> datetime:
    hour, minute = (int(part) for part in at.split(":"))
    candidate = datetime.combine(now.date(), time(hour, minute), tzinfo=UTC)
    return candidate if candidate > now else candidate + timedelta(days=1)


__all__ = ["N_", "run"]

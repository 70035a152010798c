"""``/advisor add|remove|list``: changing the advisory group without a restart.

Two-person rule: one advisor proposes (``/advisor add telegram:123``), a
second, different advisor confirms by sending the same command; only then
does the change take effect. The config's ``[advisory] advisors`` seeds the
group; changes made here are kept in storage (``db.advisors``) and applied
over the config at every start (``effective``). The router lets only
advisors in, before the arguments are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from handlers.commands import Arg, ArgKind, CommandSpec
from handlers.messages import Address, Platform
from handlers.services import Services
from handlers.triage import resolve_advisor
from handlers.turn import Turn
from storage.repos.advisors import Change, Outcome, RosterEntry

SPEC = CommandSpec(
    "advisor",
    (
        Arg("action", ArgKind.CHOICE, choices=("add", "remove", "list")),
        Arg("person", ArgKind.REST, optional=True),
    ),
)
IN_GROUP = ("added", "proposed_remove")  # a proposed removal is not yet in force


def effective(seed: Sequence[Address], roster: Sequence[RosterEntry]) -> tuple[Address, ...]:
    """The advisors in force: the config's list with the changes made in chat."""
    group = list(seed)
    for entry in roster:
        address = Address.parse(entry.address)
        if entry.state in IN_GROUP and address not in group:
            group.append(address)
        elif entry.state == "removed" and address in group:
            group.remove(address)
    return tuple(group)


async def load(services: Services) -> None:
    """At start: apply the changes made in chat to the config's advisors."""
    roster = await services.db.advisors.roster()
    services.settings = replace(
        services.settings, advisors=effective(services.settings.advisors, roster)
    )


def parse_person(turn: Turn, text: str) -> Address | None:
    """``telegram:123``, ``matrix:@a:b``, ``@a:b`` (Matrix), ``123`` (Telegram),
    or the name of a current advisor (``alice``)."""
    text = text.strip()
    if not text or " " in text:
        return None
    if text.split(":", 1)[0].lower() in {platform.value for platform in Platform}:
        try:
            return Address.parse(text)
        except ValueError:
            return None
    if text.startswith("@") and ":" in text:
        return Address(Platform.MATRIX, text)
    if text.lstrip("-").isdigit():
        return Address(Platform.TELEGRAM, text)
    return resolve_advisor(turn, text)


async def run(turn: Turn, args: Mapping[str, Any]) -> None:
    settings = turn.services.settings
    if args["action"] == "list":
        names = ", ".join(turn.services.hub.mention(a) for a in settings.advisors)
        await turn.say(turn.t("Advisors: {names}", names=names))
        return
    person = parse_person(turn, args.get("person") or "")
    if person is None:
        await turn.say(turn.t("Usage: {usage}", usage=SPEC.usage()))
        return
    change = Change(args["action"])
    shown = str(person)
    if change is Change.ADD and settings.is_advisor(person):
        await turn.say(turn.t("{person} is already an advisor.", person=shown))
        return
    if change is Change.REMOVE:
        if not settings.is_advisor(person):
            await turn.say(turn.t("{person} is not one of the advisors.", person=shown))
            return
        if len(settings.advisors) <= 2:
            await turn.say(
                turn.t(
                    "The advisory group keeps at least two advisors: "
                    "every change needs a second one to confirm."
                )
            )
            return
    outcome = await turn.services.db.advisors.propose(shown, change, str(turn.msg.sender))
    if outcome is Outcome.REPEATED:
        await turn.say(turn.t("A second advisor must confirm this change."))
        return
    if outcome is Outcome.PROPOSED:
        command = f"/advisor {change.value} {shown}"
        await turn.say(
            turn.t("Proposed. Another advisor confirms with: {command}", command=command)
        )
        return
    group = settings.advisors
    group = (*group, person) if change is Change.ADD else tuple(a for a in group if a != person)
    turn.services.settings = replace(settings, advisors=group)
    if change is Change.ADD:
        await turn.say(turn.t("{person} is now an advisor.", person=shown))
    else:
        await turn.say(turn.t("{person} is no longer an advisor.", person=shown))

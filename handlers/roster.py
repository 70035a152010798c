"""``/advisor add|remove|list``: changing the advisory group without a restart.

Two-person rule: one advisor proposes (``/advisor add telegram:123``), a
second, different advisor confirms by sending the same command; only then
does the change take effect. The config's ``[advisory] advisors`` seeds the
group; changes made here are kept in storage (``db.advisors``) and applied
over the config at every start (``effective``). The command table
(handlers/command_table.py) lets only advisors in, before the arguments are
read.

The change, its audit entry and the reply commit together in the turn's
unit of work; the advisors in memory change only once that commit is
durable (``db.after_commit``), so a turn that is rolled back never gives
anyone the rights of an advisor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from handlers.commands import BadArgument
from handlers.messages import Address, Platform
from handlers.services import Services
from handlers.triage import resolve_advisor
from handlers.turn import Turn
from storage.repos.advisors import Change, Outcome, RosterEntry

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


async def list_(turn: Turn, args: Mapping[str, Any]) -> None:
    names = ", ".join(turn.services.hub.mention(a) for a in turn.services.settings.advisors)
    await turn.say(turn.t("Advisors: {names}", names=names))


async def add(turn: Turn, args: Mapping[str, Any]) -> None:
    await _change(turn, Change.ADD, args["person"])


async def remove(turn: Turn, args: Mapping[str, Any]) -> None:
    await _change(turn, Change.REMOVE, args["person"])


async def _change(turn: Turn, change: Change, text: str) -> None:
    person = parse_person(turn, text)
    if person is None:
        raise BadArgument(text)  # answered with the subcommand's usage line
    services = turn.services
    db = services.db
    # The group as committed so far, read inside this unit of work: a change
    # confirmed by an earlier turn of the same group commit counts already.
    group = effective(services.settings.advisors, await db.advisors.roster())
    shown = str(person)
    if change is Change.ADD and person in group:
        await turn.say(turn.t("{person} is already an advisor.", person=shown))
        return
    if change is Change.REMOVE:
        if person not in group:
            await turn.say(turn.t("{person} is not one of the advisors.", person=shown))
            return
        if len(group) <= 2:
            await turn.say(
                turn.t(
                    "The advisory group keeps at least two advisors: "
                    "every change needs a second one to confirm."
                )
            )
            return
    outcome = await db.advisors.propose(shown, change, str(turn.msg.sender))
    if outcome is Outcome.REPEATED:
        await turn.say(turn.t("A second advisor must confirm this change."))
        return
    if outcome is Outcome.PROPOSED:
        command = f"/advisor {change.value} {shown}"
        await turn.say(
            turn.t("Proposed. Another advisor confirms with: {command}", command=command)
        )
        return

    def in_force() -> None:
        now = services.settings.advisors
        if change is Change.ADD:
            advisors = now if person in now else (*now, person)
        else:
            advisors = tuple(a for a in now if a != person)
        services.settings = replace(services.settings, advisors=advisors)

    db.after_commit(in_force)  # rights change only once the change is durable
    if change is Change.ADD:
        await turn.say(turn.t("{person} is now an advisor.", person=shown))
    else:
        await turn.say(turn.t("{person} is no longer an advisor.", person=shown))

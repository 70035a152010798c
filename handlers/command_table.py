"""Every chat command, declared in one table.

Each entry names who may use the command (``Audience``), declares its
arguments (``handlers.commands``: the usage lines of a mistake and of
``/help`` are generated from these declarations) and the function that runs
it. ``/appeal``, ``/member`` and ``/proposal`` declare their subcommands the
same way. ``/help`` is generated from this table too (the sentence that
explains each line, and its example, come from handlers/guide.py).
``handlers.router`` parses a message against this table and calls the entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from handlers import (
    agenda,
    appeals,
    casework,
    checkins,
    consent,
    guide,
    letters,
    members,
    outcome,
    proposals,
    referrals,
    resources,
    roster,
    stats,
    subscriptions,
    triage,
)
from handlers.commands import SUBCOMMAND, Arg, ArgKind, BadArgument, CommandSpec
from handlers.conversation import commands as defender
from handlers.turn import Turn
from storage.records import LANGUAGES, CaseState, Priority

Run = Callable[[Turn, Mapping[str, Any]], Awaitable[None]]


class Audience(Enum):
    DEFENDER = auto()  # a private chat; the account is created on first use
    ADVISOR = auto()  # advisors, in an advisory room or a private chat; checked first
    MEMBER = auto()  # member groups (and their contacts in private)
    EVERYONE = auto()  # /help
    DEFENDER_OR_ADVISOR = auto()  # /checkin: a defender in private, an advisor on a case


@dataclass(frozen=True)
class Command:
    spec: CommandSpec
    run: Run
    audience: Audience

    @property
    def private_only(self) -> bool:
        return self.audience is Audience.DEFENDER

    @property
    def advisory(self) -> bool:
        """Advisors only, checked before the arguments are read."""
        return self.audience is Audience.ADVISOR

    @property
    def needs_account(self) -> bool:
        """False for advisors' and members' commands: no account record is created
        for a person who only signs or triages (data minimisation, and one write
        less per signature)."""
        return self.audience in (Audience.DEFENDER, Audience.EVERYONE, Audience.DEFENDER_OR_ADVISOR)


def group(name: str, audience: Audience, *subcommands: tuple[CommandSpec, Run]) -> Command:
    """A command whose first word picks a subcommand, each with its own run."""
    spec = CommandSpec.group(name, *(sub for sub, _ in subcommands))
    runs = {sub.name: run for sub, run in subcommands}

    async def run(turn: Turn, args: Mapping[str, Any]) -> None:
        word = args[SUBCOMMAND]
        try:
            await runs[word](turn, args)
        except BadArgument:
            usage = spec.subcommand(word)
            assert usage is not None
            await turn.say(turn.t("Usage: {usage}", usage=usage.usage()))

    return Command(spec, run, audience)


# -- arguments used by several commands ---------------------------------------

CASE = Arg("case", ArgKind.CASE_REF)
CASE_OR_CARD = Arg("case", ArgKind.CASE_REF, optional=True)  # a reply to a card may omit it
APPEAL = Arg("appeal", ArgKind.APPEAL_REF)
TEXT = Arg("text", ArgKind.REST)
NAME = Arg("name", ArgKind.REST, shown="NAME")
MEMBER_FIELDS = Arg("name", ArgKind.REST, shown=f"NAME {members.FIELDS_SHOWN}")
PROPOSAL = Arg("proposal", ArgKind.PROPOSAL_REF)
TARGETS = Arg("targets", ArgKind.REST, shown=subscriptions.PAIRS)
PERSON = Arg("person", ArgKind.REST, shown="telegram:ID|matrix:@user:server|NAME")


def defender_command(name: str, run: Run, *args: Arg, aliases: tuple[str, ...] = ()) -> Command:
    return Command(CommandSpec(name, args, aliases), run, Audience.DEFENDER)


def case_command(name: str, action: triage.Action, *args: Arg) -> Command:
    """A triage command on one case: ``/name [C-…] args``."""
    spec = CommandSpec(name, (CASE_OR_CARD, *args))
    return Command(spec, lambda turn, a: triage.run(turn, spec, action, a), Audience.ADVISOR)


def declared_case_command(spec: CommandSpec, action: triage.Action) -> Command:
    """A triage command on one case whose module declares it (its answers quote the usage)."""
    return Command(spec, lambda turn, a: triage.run(turn, spec, action, a), Audience.ADVISOR)


def appeal(name: str, action: appeals.Action, *args: Arg) -> tuple[CommandSpec, Run]:
    return CommandSpec(name, args), lambda turn, a: appeals.run(turn, action, a)


def member_command(name: str, run: Run, *args: Arg) -> Command:
    return Command(CommandSpec(name, args), run, Audience.MEMBER)


def member_sub(name: str, run: Run, *args: Arg) -> tuple[CommandSpec, Run]:
    return CommandSpec(name, args), run


def proposal(name: str, action: proposals.Action, *args: Arg) -> tuple[CommandSpec, Run]:
    return CommandSpec(name, (PROPOSAL, *args)), lambda turn, a: proposals.run(turn, action, a)


def specs_for(audience: Audience) -> list[CommandSpec]:
    """The declarations one audience may use (``/help`` counts for everyone)."""
    shared = (
        (Audience.DEFENDER_OR_ADVISOR,) if audience in (Audience.ADVISOR, Audience.DEFENDER) else ()
    )
    return [c.spec for c in COMMANDS if c.audience in (audience, Audience.EVERYONE, *shared)]


async def help_(turn: Turn, command: str | None = None) -> None:
    """What this person can do here: every usage line generated from the table,
    each with a sentence that explains it; ``/help COMMAND`` gives one command
    in full with examples, and a mistyped one gets the closest name."""
    if triage.allowed(turn):
        heading, audience = turn.t("Commands of the advisory group:"), Audience.ADVISOR
    elif turn.msg.is_private:
        await defender.help_(turn)
        return
    else:
        heading, audience = turn.t("Commands for member groups:"), Audience.MEMBER
    specs = specs_for(audience)
    wanted = (command or "").lstrip("/!").casefold()
    if not wanted:
        await turn.say(guide.overview(turn, heading, [s for s in specs if s.name != "help"]))
        return
    chosen = next((s for s in specs if wanted in (s.name, *s.aliases)), None)
    if chosen is None:
        await turn.say(guide.did_you_mean(turn, wanted, [s.name for s in specs]))
    else:
        await turn.say(guide.detail(turn, chosen))


COMMANDS: tuple[Command, ...] = (
    Command(
        CommandSpec("help", (Arg("command", optional=True),)),
        lambda turn, a: help_(turn, a["command"]),
        Audience.EVERYONE,
    ),
    # A defender, in a private chat with the bot.
    defender_command("start", lambda turn, a: defender.start(turn)),
    defender_command("language", lambda turn, a: defender.language(turn), aliases=("lang",)),
    defender_command("report", lambda turn, a: defender.report(turn)),
    defender_command(
        "sos",
        lambda turn, a: defender.sos(turn, a["text"]),
        Arg("text", ArgKind.REST, optional=True),
    ),
    defender_command("status", lambda turn, a: defender.status(turn)),
    defender_command(
        "update",
        lambda turn, a: defender.update(turn, a["case"], a["text"]),
        CASE,
        Arg("text", ArgKind.REST, optional=True),
    ),
    defender_command("cancel", lambda turn, a: defender.cancel(turn)),
    defender_command("forget", lambda turn, a: defender.forget(turn)),
    # Issue 15: the defender kept informed (handlers/consent.py, resources.py, checkins.py).
    defender_command("consent", consent.run, CASE),
    defender_command(
        "resources",
        resources.run,
        Arg("topic", ArgKind.CHOICE, optional=True, choices=resources.TOPICS),
    ),
    # The defender in private, or an advisor on a case (the command refuses anyone
    # else in a group before any lookup).
    Command(
        CommandSpec(
            "checkin",
            (
                Arg("case", ArgKind.CASE_REF, optional=True),
                Arg("action", ArgKind.CHOICE, choices=("every", "stop")),
                Arg("interval", ArgKind.DURATION, optional=True),
                Arg("for", ArgKind.CHOICE, optional=True, choices=("for",)),
                Arg("length", ArgKind.DURATION, optional=True),
            ),
        ),
        checkins.run,
        Audience.DEFENDER_OR_ADVISOR,
    ),
    # The advisory group: triage.
    case_command("ack", triage.ack),
    case_command("claim", triage.claim),
    # A display name may have spaces ("Ana M"): the rest of the line.
    case_command("assign", triage.assign, Arg("person", ArgKind.REST)),
    case_command(
        "priority", triage.priority, Arg("level", ArgKind.CHOICE, choices=tuple(Priority))
    ),
    case_command("state", triage.state, Arg("state", ArgKind.CHOICE, choices=tuple(CaseState))),
    case_command("verify", triage.verify, Arg("verdict", ArgKind.CHOICE, choices=triage.VERDICTS)),
    case_command("note", triage.note, TEXT),
    case_command("ask", triage.ask, TEXT),
    case_command("case", triage.show),
    # The advisory group: casework (structured fields, outcomes, partners, figures).
    declared_case_command(casework.CASE_SPECS["tag"], casework.tag),
    declared_case_command(casework.CASE_SPECS["followup"], casework.followup),
    declared_case_command(casework.CASE_SPECS["close"], casework.close),
    declared_case_command(referrals.REFER_SPEC, referrals.refer),
    Command(referrals.REFERRAL_SPEC, referrals.referral, Audience.ADVISOR),
    Command(agenda.CASES_SPEC, agenda.cases, Audience.ADVISOR),
    Command(agenda.AGENDA_SPEC, agenda.agenda, Audience.ADVISOR),
    Command(stats.STATS_SPEC, stats.post_stats, Audience.ADVISOR),
    # The advisory group: appeals and the member registry.
    group(
        "appeal",
        Audience.ADVISOR,
        appeal(
            "new",
            appeals.new,
            Arg("case", ArgKind.CASE_REF, optional=True),
            Arg("template", optional=True, shown=f"template={'|'.join(letters.TEMPLATES)}"),
        ),
        appeal(
            "text",
            appeals.set_text,
            APPEAL,
            Arg("language", ArgKind.CHOICE, choices=LANGUAGES),
            TEXT,
        ),
        appeal("deadline", appeals.set_deadline, APPEAL, Arg("deadline", ArgKind.DATE)),
        appeal(
            "target",
            appeals.set_target,
            APPEAL,
            Arg(
                "audience",
                ArgKind.REST,
                shown="region=… language=… group=… individuals=yes|no",
            ),
        ),
        appeal("show", appeals.show, APPEAL),
        appeal("approve", appeals.approve, APPEAL),
        appeal(
            "send",
            appeals.send,
            APPEAL,
            Arg("fallback", optional=True, shown=f"fallback={'|'.join(LANGUAGES)}"),
        ),
        appeal("status", appeals.status, APPEAL),
        appeal("export", appeals.export, APPEAL),
        appeal("update", appeals.update, APPEAL, TEXT),
        appeal(
            "outcome",
            outcome.run,
            APPEAL,
            Arg("language", ArgKind.CHOICE, choices=(*LANGUAGES, outcome.SEND)),
            Arg("text", ArgKind.REST, optional=True),
        ),
        appeal("to", letters.set_addressee, APPEAL, Arg("addressee", ArgKind.REST, shown="TO")),
        appeal("delivered", letters.delivered, APPEAL, Arg("how", ArgKind.REST, shown="HOW")),
    ),
    group(
        "member",
        Audience.ADVISOR,
        member_sub("add", members.add, MEMBER_FIELDS),
        member_sub("set", members.set_fields, MEMBER_FIELDS),
        member_sub("show", members.show, NAME),
        member_sub("list", members.list_),
        member_sub("remove", members.remove, NAME),
        member_sub("invite", members.invite, NAME),
    ),
    group(
        "proposal",
        Audience.ADVISOR,
        proposal("accept", proposals.accept),
        proposal("decline", proposals.decline, Arg("reason", ArgKind.REST)),
    ),
    # The advisory group itself: a change needs a second advisor (two-person rule).
    group(
        "advisor",
        Audience.ADVISOR,
        (CommandSpec("add", (PERSON,)), roster.add),
        (CommandSpec("remove", (PERSON,)), roster.remove),
        (CommandSpec("list"), roster.list_),
    ),
    # Member groups.
    member_command(
        members.SIGN,
        lambda turn, a: members.sign(turn, a["appeal"], a["organisation"]),
        APPEAL,
        Arg("organisation", ArgKind.REST, optional=True),
    ),
    member_command(
        "unsign",
        lambda turn, a: members.sign(turn, a["appeal"], a["organisation"], undo=True),
        APPEAL,
        Arg("organisation", ArgKind.REST, optional=True),
    ),
    member_command("register", members.register, Arg("code")),
    member_command("mute", lambda turn, a: members.mute(turn, True)),
    member_command("unmute", lambda turn, a: members.mute(turn, False)),
    member_command(
        "propose",
        proposals.propose,
        Arg("case", ArgKind.CASE_REF, optional=True),
        Arg("text", ArgKind.REST, optional=True),
    ),
    member_command("subscribe", subscriptions.subscribe, TARGETS),
    member_command(
        "unsubscribe",
        subscriptions.unsubscribe,
        Arg("targets", ArgKind.REST, shown=f"{subscriptions.PAIRS}|{subscriptions.ALL}"),
    ),
    member_command("subscriptions", subscriptions.subscriptions),
)

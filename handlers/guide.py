"""``/help`` that explains: every usage line with what it is for, and
``/help COMMAND`` with its full usage and examples; "did you mean" for a
mistyped command.

The usage lines are generated from the declarations in handlers/
command_table.py (``/help`` itself lives there); this module adds only the
sentence that says what a command or subcommand is for, and an example,
keyed by its declared name ("assign", "appeal send"), so a new command
without an entry still shows its usage.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from handlers.commands import CommandSpec
from handlers.i18n import N_
from handlers.turn import Turn


@dataclass(frozen=True)
class Explained:
    what: str  # an English message id, rendered for the reader
    example: str = ""


COMMANDS: Mapping[str, Explained] = {
    "ack": Explained(N_("confirm you saw a new case; stops the escalation"), "/ack C-7K3M9Q"),
    "claim": Explained(N_("take a case yourself"), "/claim C-7K3M9Q"),
    "assign": Explained(
        N_("give a case to an advisor, by name or handle (a unique prefix is enough)"),
        "/assign C-7K3M9Q Ana",
    ),
    "priority": Explained(N_("set how urgent a case is"), "/priority C-7K3M9Q high"),
    "state": Explained(N_("move a case to another stage"), "/state C-7K3M9Q verifying"),
    "verify": Explained(N_("record whether the report was verified"), "/verify C-7K3M9Q confirmed"),
    "note": Explained(N_("add an internal note to a case"), "/note C-7K3M9Q Called the lawyer."),
    "ask": Explained(
        N_("send a question to the defender, privately"), "/ask C-7K3M9Q Are you safe now?"
    ),
    "refer": Explained(N_("refer a case to a partner"), "/refer C-7K3M9Q legal Lawyers' guild"),
    "followup": Explained(N_("be reminded of a case after a while"), "/followup C-7K3M9Q 2d"),
    "close": Explained(N_("close a case with a reason"), "/close C-7K3M9Q Relocated safely."),
    "case": Explained(N_("show a case and its history"), "/case C-7K3M9Q"),
    "cases": Explained(N_("list cases: open, mine, overdue or all"), "/cases overdue"),
    "appeal": Explained(
        N_("draft, approve and send an urgent-action appeal; /help appeal lists the steps"),
        "/appeal new C-7K3M9Q",
    ),
    "member": Explained(
        N_("keep the member registry: add, set, show, list, remove, invite"),
        "/member set Colectivo Tierra region=Americas",
    ),
    "proposal": Explained(
        N_("accept a member's proposal as an appeal draft, or decline it with a reason"),
        "/proposal accept P-4HX2QZ",
    ),
    "help": Explained(N_("what each command does; /help COMMAND for one"), "/help assign"),
    "sign": Explained(N_("sign an appeal for your organisation"), "/sign A-7K3M9Q"),
    "unsign": Explained(N_("withdraw your organisation's signature"), "/unsign A-7K3M9Q"),
    "register": Explained(
        N_("register this group with the one-time code the network gave you"),
        "/register 7K3M9QX2HT",
    ),
    "mute": Explained(N_("pause appeals in this group"), "/mute"),
    "unmute": Explained(N_("receive appeals again"), "/unmute"),
    "propose": Explained(
        N_("propose a collective action to the advisory group"),
        "/propose A joint letter to the governor about the eviction.",
    ),
    "subscribe": Explained(
        N_("receive appeals for a region, working group or language"),
        "/subscribe region=Americas group=land",
    ),
    "unsubscribe": Explained(N_("stop a subscription"), "/unsubscribe region=Americas"),
    "subscriptions": Explained(N_("what this group has subscribed to"), "/subscriptions"),
    "appeal new": Explained(N_("draft an appeal, optionally for a case"), "/appeal new C-7K3M9Q"),
    "appeal text": Explained(N_("set the text in one language"), "/appeal text A-7K3M9Q es …"),
    "appeal deadline": Explained(
        N_("set the last day for signatures"), "/appeal deadline A-7K3M9Q 2026-12-24"
    ),
    "appeal target": Explained(
        N_("choose the audience and see how many groups it reaches"),
        "/appeal target A-7K3M9Q region=Americas group=land",
    ),
    "appeal show": Explained(
        N_("show the appeal, its audience and approvals"), "/appeal show A-7K3M9Q"
    ),
    "appeal approve": Explained(
        N_("approve the appeal (distinct advisors)"), "/appeal approve A-7K3M9Q"
    ),
    "appeal send": Explained(
        N_("send the approved appeal to its audience"), "/appeal send A-7K3M9Q"
    ),
    "appeal status": Explained(N_("count the signatures so far"), "/appeal status A-7K3M9Q"),
    "appeal export": Explained(
        N_("the signatories as CSV and the letter"), "/appeal export A-7K3M9Q"
    ),
    "appeal update": Explained(
        N_("send news to the groups of an open appeal"), "/appeal update A-7K3M9Q …"
    ),
    "appeal outcome": Explained(
        N_("tell every group that received the appeal how it ended"),
        "/appeal outcome A-7K3M9Q en The defenders were released.",
    ),
    "member add": Explained(
        N_("add a new member"),
        "/member add Colectivo Tierra country=Colombia languages=es groups=land",
    ),
    "member set": Explained(
        N_("change only the fields you name"), "/member set Colectivo Tierra languages=es;en"
    ),
    "member show": Explained(N_("show a member's record"), "/member show Colectivo Tierra"),
    "member list": Explained(N_("list the members"), "/member list"),
    "member remove": Explained(N_("remove a member"), "/member remove Colectivo Tierra"),
    "member invite": Explained(
        N_("a one-time code to register a member's group"), "/member invite Colectivo Tierra"
    ),
    "appeal to": Explained(
        N_("the addressee of the letter, shown at its head in the export"),
        '/appeal to A-7K3M9Q "Minister of the Interior"',
    ),
    "appeal delivered": Explained(
        N_("record how the letter was delivered; the signing groups are told"),
        "/appeal delivered A-7K3M9Q by email to the ministry",
    ),
    "proposal accept": Explained(
        N_("an appeal draft with the proposal's text; the group is told"),
        "/proposal accept P-4HX2QZ",
    ),
    "proposal decline": Explained(
        N_("decline with a reason the proposing group reads"),
        "/proposal decline P-4HX2QZ The network acted on this last week.",
    ),
}


def line(turn: Turn, spec: CommandSpec) -> str:
    """``/priority [C-…] critical|… — set how urgent a case is``."""
    explained = COMMANDS.get(spec.name)
    return f"{spec.usage()} — {turn.t(explained.what)}" if explained else spec.usage()


def overview(turn: Turn, heading: str, specs: Iterable[CommandSpec]) -> str:
    """Every usage line (one per subcommand), each with what it is for."""
    lines = [line(turn, sub) for spec in specs for sub in (spec.subcommands or (spec,))]
    return "\n".join([heading, *lines])


def detail(turn: Turn, spec: CommandSpec) -> str:
    """Full usage, what it is for, and examples (one per subcommand)."""
    explained = COMMANDS.get(spec.name)
    if not spec.subcommands:
        lines = [spec.usage()]
        if explained:
            lines.append(turn.t(explained.what))
            if explained.example:
                lines.append(turn.t("Example: {example}", example=explained.example))
        return "\n".join(lines)
    lines = [turn.t(explained.what)] if explained else []
    for sub in spec.subcommands:
        lines.append(line(turn, sub))
        example = COMMANDS.get(sub.name)
        if example and example.example:
            lines.append(f"    {example.example}")
    return "\n".join(lines)


def closest(word: str, names: Iterable[str]) -> str | None:
    """The known command closest to a mistyped one, if any is close enough."""
    known = list(names)
    word = word.lower()
    swapped = [n for n in known if sorted(n) == sorted(word)]  # two letters swapped: /akc
    if len(swapped) == 1:
        return swapped[0]
    found = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(turn: Turn, word: str, names: Iterable[str]) -> str:
    guess = closest(word, names)
    if guess is None:
        return turn.t("I do not know /{word}. /help lists the commands.", word=word)
    return turn.t("I do not know /{word}. Did you mean /{guess}?", word=word, guess=guess)

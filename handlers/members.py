"""Members: the registry in the triage room, group registration, muting and
signing (docs/spec.md §5, §6).

A signature is valid when the signer is a registered contact of a member
organisation, or signs inside a registered member group (the group signs
for its organisation). One signature per organisation; individuals may sign
where the appeal allows it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from handlers import keys, places
from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES, render
from handlers.keys import Kind
from handlers.refs import RefKind, parse_ref
from handlers.turn import Turn
from storage import MemberEntry, MemberKind, Organisation
from storage.errors import Conflict, NotFound

SIGN = "sign"
"""The command a member signs an appeal with (batched by handlers/signing.py)."""
INVITE_LIFETIME = timedelta(days=7)
FIELDS = ("country", "region", "languages", "groups", "kind")
# What a field typed in the room is called in the registry: ``groups=`` are
# working groups (as in ``/appeal target group=…``), not chats.
_STORED = {"groups": "working_groups"}
_LIST_FIELDS = ("languages", "groups")
FIELDS_SHOWN = "country=… region=… languages=es;en groups=land;women kind=organisation|individual"
"""How ``/member add`` and ``/member set`` show their fields in usage lines."""


def _split_fields(rest: str) -> tuple[str, dict[str, str]]:
    """``Colectivo Tierra country=Colombia region=Americas`` → name and fields."""
    words = rest.split()
    name_words = []
    fields: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.lower() in FIELDS:
            fields[key.lower()] = value.replace("_", " ")
        elif fields:
            last = list(fields)[-1]
            fields[last] += " " + word  # a value with spaces: region=Latin America
        else:
            name_words.append(word)
    return " ".join(name_words), fields


def _changes(fields: Mapping[str, str]) -> dict[str, str | tuple[str, ...]]:
    """Typed fields as registry changes; ``BadArgument`` if a language or kind is not valid."""
    changes: dict[str, str | tuple[str, ...]] = {}
    for key, value in fields.items():
        if key in _LIST_FIELDS:
            items = tuple(v.strip() for v in value.replace(",", ";").split(";") if v.strip())
            changes[_STORED.get(key, key)] = items
        else:
            changes[key] = value.strip()
    languages = changes.get("languages", ())
    if any(lang not in LANGUAGES for lang in languages):
        raise BadArgument("languages")
    if changes.get("kind", MemberKind.ORGANISATION) not in tuple(MemberKind):
        raise BadArgument("kind")
    return changes


async def record_line(turn: Turn, org: Organisation) -> str:
    """The registry record as one line: what ``show``, ``add`` and ``set`` answer."""
    db = turn.services.db
    groups = await db.members.groups_of(org.id)
    contacts = await db.members.contacts_of(org.id)
    return turn.t(
        "{name} ({kind}) · {country} · {region} · languages {languages} · "
        "working groups {working} · member chats {groups} · contacts {contacts}",
        name=org.name,
        kind=org.kind,
        country=org.country or "-",
        region=org.region or "-",
        languages=",".join(org.languages) or "-",
        working=",".join(org.working_groups) or "-",
        groups=len([g for g in groups if g.active]),
        contacts=len(contacts),
    )


# -- /member, in the advisory group (declared in handlers/command_table.py) ----


async def list_(turn: Turn, args: Mapping[str, Any]) -> None:
    orgs = await turn.services.db.members.list_organisations()
    lines = [turn.t("Members: {count}", count=len(orgs))]
    if not await places.content_here(turn):  # organisations' names are content
        await turn.say("\n".join([*lines, places.withheld(turn)]))
        return
    lines += [f"{o.name} · {o.country} · {o.region} · {','.join(o.languages)}" for o in orgs]
    await turn.say("\n".join(lines))


async def add(turn: Turn, args: Mapping[str, Any]) -> None:
    """``/member add``: creates; an existing member is left as it is."""
    name, fields = _split_fields(args["name"])
    if not name:
        raise BadArgument(args["name"])
    changes = _changes(fields)
    entry = MemberEntry(
        name,
        kind=str(changes.get("kind") or MemberKind.ORGANISATION),
        country=str(changes.get("country", "")),
        region=str(changes.get("region", "")),
        languages=tuple(changes.get("languages", ())),
        working_groups=tuple(changes.get("working_groups", ())),
    )
    try:
        org = await turn.services.db.members.create_organisation(entry)
    except Conflict:
        await turn.say(
            turn.t(
                "{name} is already in the registry; nothing was changed. "
                "/member set {name} key=value changes only the fields you name.",
                name=name,
            )
        )
        return
    await turn.services.db.audit.append(str(turn.msg.sender), "member.add", None)
    await turn.say(
        turn.t("{name} is in the registry.", name=org.name) + "\n" + await record_line(turn, org)
    )


async def _named(turn: Turn, args: Mapping[str, Any]) -> Organisation | None:
    """The organisation named in the command, or None after saying there is none."""
    name, _ = _split_fields(args["name"])
    if not name:
        raise BadArgument(args["name"])
    found = await turn.services.db.members.organisation(name)
    if found is None:
        await turn.say(turn.t("No member called {name}.", name=name))
    return found


async def set_fields(turn: Turn, args: Mapping[str, Any]) -> None:
    """``/member set``: changes only the fields named."""
    changes = _changes(_split_fields(args["name"])[1])
    if not changes:
        raise BadArgument(args["name"])
    org = await _named(turn, args)
    if org is None:
        return
    updated = await turn.services.db.members.update_organisation(org.id, changes)
    await turn.services.db.audit.append(str(turn.msg.sender), "member.set", None)
    await turn.say(
        turn.t("{name} was updated.", name=updated.name) + "\n" + await record_line(turn, updated)
    )


OnMember = Callable[[Turn, Mapping[str, Any], Organisation], Awaitable[None]]


def on_named(action: OnMember) -> Callable[[Turn, Mapping[str, Any]], Awaitable[None]]:
    """A ``/member`` action on the organisation the command names (none: said so)."""

    @functools.wraps(action)
    async def run(turn: Turn, args: Mapping[str, Any]) -> None:
        org = await _named(turn, args)
        if org is not None:
            await action(turn, args, org)

    return run


@on_named
async def show(turn: Turn, args: Mapping[str, Any], org: Organisation) -> None:
    await turn.say(await record_line(turn, org))


@on_named
async def remove(turn: Turn, args: Mapping[str, Any], org: Organisation) -> None:
    # By the name as typed, the same key the lookup used.
    await turn.services.db.members.remove_organisation(_split_fields(args["name"])[0])
    await turn.services.db.audit.append(str(turn.msg.sender), "member.remove", None)
    await turn.say(turn.t("{name} was removed from the registry.", name=org.name))


@on_named
async def invite(turn: Turn, args: Mapping[str, Any], org: Organisation) -> None:
    code = await turn.services.db.members.invite(org.id, INVITE_LIFETIME)
    await turn.services.db.audit.append(str(turn.msg.sender), "member.invite", None)
    await turn.say(
        turn.t(
            "One-time code for {name}, valid 7 days: {code}\nIn the organisation's group, "
            "send /register {code}",
            name=org.name,
            code=code,
        )
    )


# -- member groups ------------------------------------------------------------


async def register(turn: Turn, args: Mapping[str, Any]) -> None:
    if turn.chat == turn.msg.sender:  # a one-to-one chat on Telegram
        await turn.say(turn.t("Send /register in your organisation's group, not here."))
        return
    language = turn.language
    group = await turn.services.db.members.redeem_invite(args["code"], str(turn.chat), language)
    if group is None:
        await turn.say(
            turn.t("That code is unknown, already used or expired. Ask the network for a new one.")
        )
        return
    assert group.organisation_id is not None
    org = await turn.services.db.members.get_organisation(group.organisation_id)
    if org.languages and org.languages[0] != language:
        await turn.services.db.members.add_group(str(turn.chat), org.id, org.languages[0])
    # Whoever holds the network's one-time code speaks for the organisation:
    # a registered contact, who may pause the group and withdraw signatures.
    await turn.services.db.members.add_contact(org.id, str(turn.msg.sender))
    await turn.services.db.audit.append("system", "member.register", None)
    await turn.say(
        turn.t("This group now receives the network's appeals for {name}.", name=org.name)
    )


async def _contact_of(turn: Turn, organisation_id: int | None) -> bool:
    """Whether the sender is a registered contact of the organisation: anyone
    in a member group may sign for it, only its contacts may undo or pause."""
    orgs = await turn.services.db.members.organisations_of(str(turn.msg.sender))
    return organisation_id is not None and any(o.id == organisation_id for o in orgs)


def _contacts_only(turn: Turn) -> str:
    return turn.t("Only the organisation's registered contacts can do that.")


async def mute(turn: Turn, muted: bool) -> None:
    group = await turn.services.db.members.group(str(turn.chat))
    if group is None:
        await turn.say(turn.t("This is not a registered member group."))
        return
    if not await _contact_of(turn, group.organisation_id):
        await turn.say(_contacts_only(turn))
        return
    await turn.services.db.members.set_muted(str(turn.chat), muted)
    await turn.say(
        turn.t("Appeals are paused for this group. /unmute resumes them.")
        if muted
        else turn.t("Appeals will reach this group again.")
    )


async def _signer_organisation(
    turn: Turn, wanted: str | None
) -> tuple[Organisation | None, int | None, str]:
    """Who signs: the group's organisation, or the sender's (by name if several).
    Returns (organisation, via_group_id, problem)."""
    db = turn.services.db
    # A registered member group signs for its organisation, however few people
    # are in it (a Matrix room of one person and the bot counts as private).
    group = await db.members.group(str(turn.chat))
    if group is not None and group.active and group.organisation_id is not None:
        return await db.members.get_organisation(group.organisation_id), group.id, ""
    orgs = await db.members.organisations_of(str(turn.msg.sender))
    if wanted:
        orgs = [o for o in orgs if o.name.casefold() == wanted.casefold()]
    if not orgs:
        return (
            None,
            None,
            turn.t(
                "Only members of the network can sign: sign in your organisation's registered "
                "group, or ask the network to register you as a contact."
            ),
        )
    if len(orgs) > 1:
        names = ", ".join(sorted((o.name for o in orgs), key=str.casefold))
        return (
            None,
            None,
            turn.t(
                "You represent several members; add the name: /sign A-… NAME ({names})", names=names
            ),
        )
    return orgs[0], None, ""


async def sign(turn: Turn, ref: str, wanted: str | None, *, undo: bool = False) -> None:
    org, via_group, problem = await _signer_organisation(turn, wanted)
    if org is None:
        await turn.say(problem)
        return
    db = turn.services.db
    try:  # storage refuses a closed appeal (Conflict): no read before the write
        if undo:
            if not await _contact_of(turn, org.id):
                await turn.say(_contacts_only(turn))
                return
            removed = await db.appeals.unsign(ref, org.id, str(turn.msg.sender))
            await turn.say(
                turn.t("The signature of {name} on {ref} was withdrawn.", name=org.name, ref=ref)
                if removed
                else turn.t("{name} has not signed {ref}.", name=org.name, ref=ref)
            )
            return
        new = await db.appeals.sign(ref, org.id, str(turn.msg.sender), via_group)
    except (NotFound, Conflict) as exc:
        if isinstance(exc, NotFound) or "draft" in str(exc):
            # A draft answers exactly as an unknown appeal: members must not learn of it.
            await turn.say(turn.t("There is no open appeal {ref}.", ref=ref))
        elif "organisations only" in str(exc):
            await turn.say(turn.t("{ref} takes signatures from organisations only.", ref=ref))
        else:
            await turn.say(turn.t("Signing for {ref} is closed.", ref=ref))
        return
    await turn.say(signed_text(turn.language, org.name, ref, new))


def signed_text(language: str, name: str, ref: str, new: bool) -> str:
    """The signer's confirmation (also sent by the batches of handlers/signing.py)."""
    if new:
        return render(language, "{name} signed {ref}. Thank you.", name=name, ref=ref)
    return render(language, "{name} has already signed {ref}.", name=name, ref=ref)


async def on_choice(turn: Turn) -> bool:
    """A Sign button pressed under an appeal."""
    value = keys.value_of(turn.msg.choice, Kind.SIGN)
    if value is None:
        return False
    ref = parse_ref(value, RefKind.APPEAL)
    if ref:
        await sign(turn, ref, None)
    return True

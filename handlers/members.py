"""Members: the registry in the triage room, group registration, muting and
signing (docs/spec.md §5, §6).

A signature is valid when the signer is a registered contact of a member
organisation, or signs inside a registered member group (the group signs
for its organisation). One signature per organisation; individuals may sign
where the appeal allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from handlers import keys
from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES
from handlers.keys import Kind
from handlers.refs import RefKind, parse_ref
from handlers.turn import Turn
from storage import MemberKind, Organisation
from storage.errors import Conflict, NotFound

INVITE_LIFETIME = timedelta(days=7)
FIELDS = ("country", "region", "languages", "groups", "kind")


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


# -- /member, in the advisory group (declared in handlers/command_table.py) ----


async def list_(turn: Turn, args: Mapping[str, Any]) -> None:
    orgs = await turn.services.db.members.list_organisations()
    lines = [turn.t("Members: {count}", count=len(orgs))]
    lines += [f"{o.name} · {o.country} · {o.region} · {','.join(o.languages)}" for o in orgs]
    await turn.say("\n".join(lines))


async def add(turn: Turn, args: Mapping[str, Any]) -> None:
    db = turn.services.db
    name, fields = _split_fields(args["name"])
    languages = tuple(lang for lang in fields.get("languages", "").split(";") if lang)
    kind = fields.get("kind", MemberKind.ORGANISATION)
    if (
        not name
        or any(lang not in LANGUAGES for lang in languages)
        or kind not in tuple(MemberKind)
    ):
        raise BadArgument(name)
    org = await db.members.upsert_organisation(
        name,
        kind=kind,
        country=fields.get("country", ""),
        region=fields.get("region", ""),
        languages=languages,
    )
    await db.audit.append(str(turn.msg.sender), "member.add", None)
    await turn.say(turn.t("{name} is in the registry.", name=org.name))


async def _named(turn: Turn, args: Mapping[str, Any]) -> Organisation | None:
    """The organisation named in the command, or None after saying there is none."""
    name, _ = _split_fields(args["name"])
    if not name:
        raise BadArgument(args["name"])
    found = await turn.services.db.members.organisation(name)
    if found is None:
        await turn.say(turn.t("No member called {name}.", name=name))
    return found


async def show(turn: Turn, args: Mapping[str, Any]) -> None:
    org = await _named(turn, args)
    if org is None:
        return
    groups = await turn.services.db.members.groups_of(org.id)
    contacts = await turn.services.db.members.contacts_of(org.id)
    await turn.say(
        turn.t(
            "{name} ({kind}) · {country} · {region} · languages {languages} · "
            "{groups} groups · {contacts} contacts",
            name=org.name,
            kind=org.kind,
            country=org.country or "-",
            region=org.region or "-",
            languages=",".join(org.languages) or "-",
            groups=len([g for g in groups if g.active]),
            contacts=len(contacts),
        )
    )


async def remove(turn: Turn, args: Mapping[str, Any]) -> None:
    org = await _named(turn, args)
    if org is None:
        return
    # By the name as typed, the same key the lookup used.
    await turn.services.db.members.remove_organisation(_split_fields(args["name"])[0])
    await turn.services.db.audit.append(str(turn.msg.sender), "member.remove", None)
    await turn.say(turn.t("{name} was removed from the registry.", name=org.name))


async def invite(turn: Turn, args: Mapping[str, Any]) -> None:
    org = await _named(turn, args)
    if org is None:
        return
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
    await turn.services.db.audit.append("system", "member.register", None)
    await turn.say(
        turn.t("This group now receives the network's appeals for {name}.", name=org.name)
    )


async def mute(turn: Turn, muted: bool) -> None:
    if await turn.services.db.members.group(str(turn.chat)) is None:
        await turn.say(turn.t("This is not a registered member group."))
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
        names = ", ".join(o.name for o in orgs)
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
            removed = await db.appeals.unsign(ref, org.id, str(turn.msg.sender))
            await turn.say(
                turn.t("The signature of {name} on {ref} was withdrawn.", name=org.name, ref=ref)
                if removed
                else turn.t("{name} has not signed {ref}.", name=org.name, ref=ref)
            )
            return
        new = await db.appeals.sign(ref, org.id, str(turn.msg.sender), via_group)
    except NotFound:
        await turn.say(turn.t("There is no open appeal {ref}.", ref=ref))
        return
    except Conflict as exc:
        if "organisations only" in str(exc):
            await turn.say(turn.t("{ref} takes signatures from organisations only.", ref=ref))
        else:
            await turn.say(turn.t("Signing for {ref} is closed.", ref=ref))
        return
    await turn.say(
        turn.t("{name} signed {ref}. Thank you.", name=org.name, ref=ref)
        if new
        else turn.t("{name} has already signed {ref}.", name=org.name, ref=ref)
    )


async def on_choice(turn: Turn) -> bool:
    """A Sign button pressed under an appeal."""
    value = keys.value_of(turn.msg.choice, Kind.SIGN)
    if value is None:
        return False
    ref = parse_ref(value, RefKind.APPEAL)
    if ref:
        await sign(turn, ref, None)
    return True

"""Referrals of cases to partners (legal, medical, relocation, …).

    /refer C-… PARTNER KIND [note]          opens R-… in state "requested"
    /referral R-… accepted|declined|delivered|closed [note]
    /referral R-… send                      the partner gets a summary

The partner comes from the directory (``sosbot partners import``). A
summary is sent only when the defender's consent allows sharing with
partners: "advisory group only" refuses; "public appeal, anonymised" sends
no report text and no name (the note is checked against the names of the
report); "trusted partners" and "public appeal with names" send the report.
The defender's contact details and account never leave the bot. An open
referral without news for ``[casework] referral_reminder_days`` is
recalled in the triage rooms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers import cards, news, rooms, vocab
from handlers.commands import Arg, ArgKind, CommandSpec
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.refs import RefKind, new_ref, parse_ref
from handlers.services import Services
from handlers.textsafe import mentions, names_in
from handlers.turn import Turn
from storage import CaseDetail
from storage.errors import Conflict, NotFound
from storage.records import DeadlineKind
from storage.records_casework import ReferralRecord

MOVES = ("accepted", "declined", "delivered", "closed")
SHARING = ("trusted_partners", "public_named", "public_anonymised")
SUMMARY_REACH = {"trusted_partners": 2, "public_named": 2, "public_anonymised": 1}
"""What a consent lets a partner's summary hold: the report (2), no report and
no name (1), nothing (0, absent). A change to a lower reach blocks the
referrals not sent yet (``handlers.consent``)."""


def summary_reach(consent: str) -> int:
    return SUMMARY_REACH.get(consent, 0)


REMINDER = DeadlineKind.REFERRAL_REMINDER
PARTNER_KIND_NOTE = "partner kind [note]"

REFER_SPEC = CommandSpec(
    "refer", (Arg("case", ArgKind.CASE_REF, optional=True), Arg(PARTNER_KIND_NOTE, ArgKind.REST))
)
REFERRAL_SPEC = CommandSpec(
    "referral",
    (
        Arg("referral"),
        Arg("action", ArgKind.CHOICE, choices=(*MOVES, "send")),
        Arg("note", ArgKind.REST, optional=True),
    ),
)


async def _split(turn: Turn, text: str) -> tuple[str, str, str | None] | None:
    """``Lawyers Collective legal see the file`` → (partner, kind, note).

    The kind is a vocabulary word; the partner is the longest run of words
    before it that names a partner in the directory (a name may contain a
    kind word: "Legal Aid Network legal").
    """
    words = text.split()
    for i in range(1, len(words)):
        if words[i].casefold() not in vocab.REFERRAL_KINDS:
            continue
        name = " ".join(words[:i])
        if await turn.services.db.partners.find(name) is not None:
            return name, words[i].casefold(), " ".join(words[i + 1 :]) or None
    return None


async def refer(turn: Turn, ref: str, args: Mapping[str, Any]) -> str:
    split = await _split(turn, str(args[PARTNER_KIND_NOTE]))
    if split is None:
        return turn.t(
            "Name a partner from the directory and a kind ({kinds}): {usage}",
            kinds=", ".join(vocab.REFERRAL_KINDS),
            usage=REFER_SPEC.usage(),
        )
    partner, kind, note = split
    db = turn.services.db
    for _ in range(8):  # a taken reference (1 in a billion) is retried with another
        try:
            referral = await db.partners.refer(
                new_ref(RefKind.REFERRAL), ref, str(turn.msg.sender), partner, kind, note
            )
            break
        except Conflict:
            continue
    else:
        return turn.t("{ref} cannot be changed in its current state.", ref=ref)
    await _remind_later(turn.services, referral)
    await news.referred(turn.services, ref, referral.ref, kind, partner)
    return turn.t(
        "Referral {referral} opened: {ref} to {partner} ({kind}). /referral {referral} send "
        "sends the partner a summary.",
        referral=referral.ref,
        ref=ref,
        partner=partner,
        kind=vocab.label("kind", kind, turn.language),
    )


async def _remind_later(services: Services, referral: ReferralRecord) -> None:
    if referral.open:
        due = referral.updated_at + services.settings.casework.referral_reminder_after
        await services.db.deadlines.schedule(REMINDER, referral.ref, due)
    else:
        await services.db.deadlines.cancel(REMINDER, referral.ref)


async def referral(turn: Turn, args: Mapping[str, Any]) -> None:
    ref = parse_ref(str(args["referral"]), RefKind.REFERRAL)
    if ref is None:
        await turn.say(turn.t("Usage: {usage}", usage=REFERRAL_SPEC.usage()))
        return
    try:
        if args["action"] == "send":
            answer = await send(turn, ref)
        else:
            moved = await turn.services.db.partners.move(
                ref, str(turn.msg.sender), args["action"], args.get("note")
            )
            await _remind_later(turn.services, moved)
            answer = turn.t("Referral {referral}: {state}.", referral=ref, state=args["action"])
    except NotFound:
        answer = turn.t("There is no referral {referral}.", referral=ref)
    except Conflict:
        answer = turn.t("Referral {referral} is closed.", referral=ref)
    await turn.say(answer)


async def send(turn: Turn, ref: str) -> str:
    """The partner gets a summary, if the contact is a chat and the consent allows it."""
    services = turn.services
    found = await services.db.partners.get(ref)
    if not found.open:
        return turn.t("Referral {referral} is closed.", referral=ref)
    if found.blocked:
        return _blocked(turn, found)
    case = await services.db.cases.get(found.case_ref)
    if case.withdrawn or case.consent not in SHARING:
        return turn.t(
            "Case {case} has no consent to sharing with partners: nothing was sent.",
            case=case.ref,
        )
    contact = found.partner_contact or ""
    address = _chat(contact)
    if address is None or not services.hub.serves(address.platform):
        return turn.t(
            "The partner has no chat contact the bot can reach. Contact: {contact}",
            contact=contact or "-",
        )
    anonymised = case.consent == "public_anonymised"
    if anonymised and found.note:
        named = mentions(found.note, names_in(case.who or ""))  # normalised, as appeals
        name = named[0] if named else None
        if name:
            return turn.t(
                "Case {case} consented to anonymised sharing only, and the note names {name}: "
                "nothing was sent.",
                case=case.ref,
                name=name,
            )
    file = await services.db.casefile.get(found.case_ref)
    text = summary(services, found, case, file.tags, with_report=not anonymised)
    # Queued in this turn's transaction: the outbox delivers it after the
    # commit and retries a partner chat that cannot be reached for now.
    await services.post.send_text(address, text, kind=Kind.REFERRAL, ref=ref)
    await _remind_later(services, await services.db.partners.mark_sent(ref, str(turn.msg.sender)))
    return turn.t(
        "Summary of {referral} is on its way to {partner}.", referral=ref, partner=found.partner
    )


def _blocked(turn: Turn, found: ReferralRecord) -> str:
    """The refusal of a referral narrowed consent blocked, naming the change."""
    assert found.blocked_at is not None
    return turn.t(
        "Referral {referral} is blocked: on {date} the defender of {case} changed the consent "
        'from "{old}" to "{new}" before its summary was sent. Nothing was sent. Sending '
        "under the current consent needs a new /refer.",
        referral=found.ref,
        case=found.case_ref,
        date=found.blocked_at.strftime("%Y-%m-%d %H:%M UTC"),
        old=turn.t(cards.LABELS[found.blocked_from or ""]),
        new=turn.t(cards.LABELS[found.blocked_to or ""]),
    )


def _chat(contact: str) -> Address | None:
    """The contact as a chat address (telegram:…, matrix:…, the demo's web:…), else None."""
    try:
        return Address.parse(contact)
    except ValueError:
        return None


def summary(
    services: Services,
    found: ReferralRecord,
    case: CaseDetail,
    tags: Mapping[str, tuple[str, ...]],
    *,
    with_report: bool,
) -> str:
    """What the partner reads: never the defender's contact details or account."""
    language = services.settings.default_language
    lines = [
        render(
            language,
            "Referral {referral} from the advisory group ({kind}). Please answer the advisory "
            "group, quoting {referral}.",
            referral=found.ref,
            kind=vocab.label("kind", found.kind, language),
        ),
        render(language, "Urgency: {value}", value=render(language, cards.LABELS[case.urgency])),
        *vocab.tag_lines({k: v for k, v in tags.items() if k in ("country", "threat")}, language),
    ]
    if with_report:
        none = render(language, "(not given)")
        lines += [
            render(language, "Where: {value}", value=case.where or none),
            render(language, "Who is at risk: {value}", value=case.who or none),
            "",
            render(language, "Report:"),
            case.what or none,
        ]
    if found.note:
        lines += ["", found.note]
    return "\n".join(lines)


async def remind(services: Services, ref: str) -> None:
    """A reminder in the triage rooms for an open referral without news (then weekly)."""
    try:
        found = await services.db.partners.get(ref)
    except NotFound:
        await services.db.deadlines.cancel(REMINDER, ref)
        return
    if not found.open:
        await services.db.deadlines.cancel(REMINDER, ref)
        return
    after = services.settings.casework.referral_reminder_after
    now = services.clock.now()
    if found.updated_at + after > now:  # there was news since this was scheduled
        await services.db.deadlines.schedule(REMINDER, ref, found.updated_at + after)
        return
    # Moved on before the notice: a crash loses one reminder, never repeats it.
    await services.db.deadlines.schedule(REMINDER, ref, now + after)
    await rooms.notice(
        services,
        N_(
            "⏰ Referral {referral} ({case}, {partner}) has had no news since {date}. "
            "/referral {referral} accepted|declined|delivered|closed"
        ),
        referral=ref,
        case=found.case_ref,
        partner=found.partner or "-",
        date=found.updated_at.strftime("%Y-%m-%d"),
    )

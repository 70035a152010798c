"""The letter side of an appeal (issue 16): its addressee, its delivery,
texts pre-filled from templates, and no silent English copy.

- ``/appeal to A-… "Minister of the Interior of …"``: the addressee, shown
  at the head of the letter export.
- ``/appeal delivered A-… HOW``: the letter was delivered (by email, in
  person…); the groups of the organisations that signed are told, once.
- ``/appeal new C-… template=urgent``: the texts are pre-filled from
  ``locales/templates/<language>/<name>.txt`` (editable, see the README
  there) with the case's fields that its consent allows to be public.
- A member group whose language has no text gets no text unless the advisor
  says which language it gets instead: approval warns, and ``/appeal send``
  refuses until ``fallback=LANG`` is given.

The addressee and the delivery are sealed appeal notes (storage/repos/
appeal_notes.py), like the outcome texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from importlib import resources
from string import Template
from typing import Any

from handlers import appeals, broadcast, outcome
from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES, N_, render
from handlers.services import Services
from handlers.turn import Turn
from storage import AppealState, BroadcastKind, CaseDetail, Consent, Language
from storage.records import MemberGroup
from storage.repos.outbox import Delivery

TEMPLATES = ("urgent", "letter", "statement")
ADDRESSEE, DELIVERED = "addressee", "delivered"
ONE = "-"  # the language slot of a note that has no language
ANONYMOUS_WHO = N_("the human rights defenders concerned")


# ----------------------------------------------------------------- addressee
async def set_addressee(turn: Turn, args: Mapping[str, Any]) -> str:
    """``/appeal to A-… ADDRESSEE``."""
    ref = args["appeal"]
    addressee = args["addressee"].strip().strip('"“”«»').strip()
    if not addressee or len(addressee) > 500:
        raise BadArgument("addressee")
    await turn.services.db.appeals.get(ref)  # NotFound for an unknown appeal
    await turn.services.db.appeal_notes.set_note(
        ref, str(turn.msg.sender), ADDRESSEE, ONE, addressee
    )
    return turn.t("The letter of {ref} is addressed to: {addressee}", ref=ref, addressee=addressee)


async def addressee_of(services: Services, ref: str) -> str | None:
    return (await services.db.appeal_notes.notes(ref, ADDRESSEE)).get(ONE)


# ------------------------------------------------------------------ delivery
async def delivered(turn: Turn, args: Mapping[str, Any]) -> str:
    """``/appeal delivered A-… HOW``."""
    ref, how = args["appeal"], args["how"].strip()
    if len(how) > 500:
        raise BadArgument("how")
    db = turn.services.db
    appeal = await db.appeals.get(ref)
    if appeal.state == AppealState.DRAFT:
        return turn.t("{ref} has not been sent: it has no outcome yet.", ref=ref)
    if await db.outbox.broadcast(BroadcastKind.DELIVERED, ref) is not None:
        return turn.t("The delivery of {ref} was already recorded.", ref=ref)
    await db.appeal_notes.set_note(ref, str(turn.msg.sender), DELIVERED, ONE, how)
    signed = await db.appeals.signed_organisation_ids(ref)
    groups = [g for g in await outcome.recipients(turn, appeal) if g.organisation_id in signed]
    deliveries = [
        Delivery(
            g.address,
            g.language,
            render(
                g.language or Language.EN,
                "The letter of appeal {ref}, which your organisation signed, was delivered: "
                "{how}. Thank you.",
                ref=ref,
                how=how,
            ),
        )
        for g in groups
    ]
    await broadcast.queue_broadcast(turn.services, BroadcastKind.DELIVERED, ref, deliveries)
    return turn.tn(
        "Delivery of {ref} recorded; {n} signing group is told.",
        "Delivery of {ref} recorded; {n} signing groups are told.",
        len(deliveries),
        ref=ref,
    )


# ----------------------------------------------------------------- templates
def template_text(language: str, name: str) -> str | None:
    path = resources.files("locales") / "templates" / language / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def fill(language: str, name: str, case: CaseDetail | None) -> str | None:
    """The template in ``language`` with the case's public fields; None if there is none."""
    text = template_text(language, name)
    if text is None:
        return None
    values = {"who": "…", "where": "…", "date": "…"}
    if case is not None:
        named = case.consent == Consent.PUBLIC_NAMED
        values["who"] = (case.who if named and case.who else "") or render(language, ANONYMOUS_WHO)
        values["where"] = case.where or "…"
        values["date"] = case.created_at.strftime("%Y-%m-%d")
    return Template(text).safe_substitute(values)


def keyword_option(word: str | None, key: str, allowed: Collection[str]) -> str | None:
    """``key=value`` with an allowed value → the value (lowercase); nothing → None;
    anything else is a usage error."""
    if word is None:
        return None
    given, sep, value = word.partition("=")
    if given.lower() != key or not sep or value.lower() not in allowed:
        raise BadArgument(word)
    return value.lower()


def template_name(word: str | None) -> str | None:
    """``template=urgent`` → "urgent"; nothing → None; anything else is a usage error."""
    return keyword_option(word, "template", TEMPLATES)


async def template_refusal(turn: Turn, name: str, case_ref: str | None) -> str | None:
    """Why ``template=name`` cannot be used for this case, before any draft is made."""
    if case_ref is not None:
        case = await turn.services.db.cases.get(case_ref)
        if case.withdrawn or case.consent not in appeals.PUBLIC:
            return turn.t(
                "Case {case} has no consent to a public appeal: the appeal cannot be sent.",
                case=case_ref,
            )
    return None


async def apply_template(turn: Turn, ref: str, name: str, case_ref: str | None) -> None:
    """Pre-fill the new draft ``ref`` in every language that has the template."""
    case = await turn.services.db.cases.get(case_ref) if case_ref else None
    for language in LANGUAGES:
        text = fill(language, name, case)
        if text:
            await turn.services.db.appeals.set_text(ref, str(turn.msg.sender), language, text)


# ---------------------------------------------------------- missing languages
def missing(groups: Sequence[MemberGroup], texts: Mapping[str, str]) -> Counter[str]:
    """How many groups, by language, read a language the appeal has no text in."""
    return Counter(
        g.language or Language.EN for g in groups if (g.language or Language.EN) not in texts
    )


def missing_warning(turn: Turn, ref: str, gaps: Counter[str]) -> str:
    lines = [
        turn.tn(
            "Warning: no {language} text for {n} member group.",
            "Warning: no {language} text for {n} member groups.",
            count,
            language=language,
        )
        for language, count in sorted(gaps.items())
    ]
    lines.append(
        turn.t(
            "Add the texts (/appeal text {ref} LANG …), or send them another language: "
            "/appeal send {ref} fallback=en",
            ref=ref,
        )
    )
    return "\n".join(lines)


def fallback_language(word: str | None) -> str | None:
    """``fallback=en`` → "en"; nothing → None; anything else is a usage error."""
    return keyword_option(word, "fallback", LANGUAGES)

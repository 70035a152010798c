"""Urgent-action appeals: drafting, approval, consent, broadcast (docs/spec.md §5).

Advisors draft an appeal, give its text per language, a deadline and an
audience; distinct advisors approve it (``appeals.approvals_required``, the
drafter's approval counting as one); ``/appeal send`` opens it for
signatures and queues one message per matching member group, in the
group's language (else English), with a Sign button. An appeal linked to a
case needs the case's consent to a public appeal; with anonymised consent a
text that contains a name given in the report is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from handlers import broadcast, keys
from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES, render, render_plural
from handlers.keys import Kind
from handlers.refs import RefKind, new_ref
from handlers.services import Services
from handlers.turn import Turn
from storage import (
    AppealDetail,
    AppealState,
    BroadcastKind,
    CaseDetail,
    Consent,
    DeadlineKind,
    Language,
    MemberGroup,
)
from storage.errors import Conflict, NotFound
from storage.repos.outbox import Delivery

Action = Callable[[Turn, Mapping[str, Any]], Awaitable[str | None]]
"""A subcommand of ``/appeal`` (declared in handlers/command_table.py): its answer."""
PUBLIC = (Consent.PUBLIC_NAMED, Consent.PUBLIC_ANONYMISED)
TARGET_KEYS = ("region", "language", "group", "individuals")
_STOPWORDS = {
    "and",
    "the",
    "los",
    "las",
    "del",
    "des",
    "les",
    "una",
    "uno",
    "من",
    "في",
    "على",
}


def sign_line(language: str, ref: str) -> str:
    return render(
        language, "To sign for your organisation, send /sign {ref} or press Sign.", ref=ref
    )


def names_in(who: str) -> set[str]:
    """Words of the report's "who is at risk" that look like names.

    Latin script: capitalised words; Arabic script: every word of three
    letters or more (Arabic has no capitals). Errs on the side of refusing.
    """
    found = set()
    for word in re.findall(r"[^\W\d_][\w'’-]*", who):
        arabic = any("\u0600" <= ch <= "\u06ff" for ch in word)
        if ((arabic and len(word) >= 3) or (word[:1].isupper() and len(word) >= 2)) and (
            word.casefold() not in _STOPWORDS
        ):
            found.add(word)
    return found


def named_in_text(names: set[str], text: str) -> str | None:
    for name in sorted(names):
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            return name
    return None


async def _consent_problem(turn: Turn, appeal: AppealDetail) -> str | None:
    if appeal.case_ref is None:
        return None
    case = await turn.services.db.cases.get(appeal.case_ref)
    if case.withdrawn or case.consent not in PUBLIC:
        return turn.t(
            "Case {case} has no consent to a public appeal: the appeal cannot be sent.",
            case=appeal.case_ref,
        )
    return anonymity_problem(turn, case, appeal.texts.values())


def anonymity_problem(turn: Turn, case: CaseDetail, texts: Iterable[str]) -> str | None:
    """With anonymised consent, a text may not name anyone named in the report."""
    if case.consent != Consent.PUBLIC_ANONYMISED:
        return None
    names = names_in(case.who or "")
    for text in texts:
        name = named_in_text(names, text)
        if name:
            return turn.t(
                "Case {case} consented to an anonymised appeal only, and the text names "
                "{name}. Remove the name and set the text again.",
                case=case.ref,
                name=name,
            )
    return None


async def new(turn: Turn, args: Mapping[str, Any]) -> str:
    case_ref = args["case"]
    if case_ref is not None:
        await turn.services.db.cases.get(case_ref)  # NotFound if there is none
    for _ in range(8):
        ref = new_ref(RefKind.APPEAL)
        try:
            await turn.services.db.appeals.create(ref, str(turn.msg.sender), case_ref)
        except Conflict:
            continue
        return turn.t(
            "Appeal {ref} drafted. Next: /appeal text {ref} en <text>, /appeal deadline {ref} "
            "YYYY-MM-DD, /appeal target {ref} region=… language=… group=…",
            ref=ref,
        )
    raise RuntimeError("could not allocate an appeal reference")


async def set_text(turn: Turn, args: Mapping[str, Any]) -> str:
    ref, language, text = args["appeal"], args["language"], args["text"]
    if len(text) > turn.services.settings.max_text_chars:
        return turn.t("That message is too long. Nothing was saved.")
    appeal = await turn.services.db.appeals.get(ref)
    if appeal.case_ref:
        case = await turn.services.db.cases.get(appeal.case_ref)
        problem = anonymity_problem(turn, case, [text])
        if problem:
            return problem
    await turn.services.db.appeals.set_text(ref, str(turn.msg.sender), language, text.strip())
    return turn.t(
        "Text of {ref} in {language} saved. Approvals so far were withdrawn.",
        ref=ref,
        language=language,
    )


async def set_deadline(turn: Turn, args: Mapping[str, Any]) -> str:
    ref, day = args["appeal"], args["deadline"]
    deadline = datetime.combine(day, time(23, 59), tzinfo=UTC)
    if deadline <= turn.services.clock.now():
        return turn.t("The deadline must be in the future.")
    await turn.services.db.appeals.set_deadline(ref, str(turn.msg.sender), deadline)
    return turn.t("Deadline of {ref}: {date} 23:59 UTC.", ref=ref, date=day.isoformat())


async def set_target(turn: Turn, args: Mapping[str, Any]) -> str:
    ref = args["appeal"]
    values: dict[str, str] = {}
    for pair in args["audience"].split():
        key, sep, value = pair.partition("=")
        if not sep or key.lower() not in TARGET_KEYS or not value:
            raise BadArgument(pair)
        values[key.lower()] = value.replace("_", " ")
    language = values.get("language")
    if language and language not in LANGUAGES:
        raise BadArgument(language)
    await turn.services.db.appeals.set_target(
        ref,
        str(turn.msg.sender),
        region=values.get("region"),
        language=language,
        group=values.get("group"),
        allow_individuals=values.get("individuals", "no").lower() in ("yes", "true", "1"),
    )
    groups = await audience(turn.services, await turn.services.db.appeals.get(ref))
    return turn.tn(
        "Audience of {ref}: {n} member group.",
        "Audience of {ref}: {n} member groups.",
        len(groups),
        ref=ref,
    )


def with_sign_button(
    ref: str, groups: Sequence[MemberGroup], texts: Mapping[str, str]
) -> list[Delivery]:
    """One message per group, in its language, under a Sign button in that language."""
    labels = {lang: render(lang, "Sign") for lang in {*texts, Language.EN}}
    return [
        Delivery(
            d.address,
            d.language,
            d.text,
            ((keys.make(Kind.SIGN, ref), labels[d.language or Language.EN]),),
        )
        for d in broadcast.deliveries_for(groups, texts)
    ]


async def audience(services: Services, appeal: AppealDetail) -> list[MemberGroup]:
    """The active member groups the appeal's target selects."""
    return await services.db.members.audience(
        region=appeal.target_region,
        language=appeal.target_language,
        working_group=appeal.target_group,
    )


async def show(turn: Turn, args: Mapping[str, Any]) -> str:
    ref = args["appeal"]
    appeal = await turn.services.db.appeals.get(ref)
    groups = await audience(turn.services, appeal)
    lines = [
        turn.t("Appeal {ref} ({state})", ref=ref, state=appeal.state),
        turn.t("Case: {value}", value=appeal.case_ref or "-"),
        turn.t(
            "Deadline: {value}",
            value=appeal.deadline_at.strftime("%Y-%m-%d %H:%M UTC") if appeal.deadline_at else "-",
        ),
        turn.t(
            "Audience: region={region} language={language} group={group}: {count} member groups",
            region=appeal.target_region or "*",
            language=appeal.target_language or "*",
            group=appeal.target_group or "*",
            count=len(groups),
        ),
        turn.t(
            "Approvals: {count} of {needed}",
            count=appeal.approvals,
            needed=turn.services.settings.approvals_required,
        ),
    ]
    for language, text in sorted(appeal.texts.items()):
        lines += ["", f"[{language}]", text]
    return "\n".join(lines)


async def approve(turn: Turn, args: Mapping[str, Any]) -> str:
    ref = args["appeal"]
    count = await turn.services.db.appeals.approve(ref, str(turn.msg.sender))
    needed = turn.services.settings.approvals_required
    return turn.t("{ref}: {count} of {needed} approvals.", ref=ref, count=count, needed=needed)


async def send(turn: Turn, args: Mapping[str, Any]) -> str:
    ref, db = args["appeal"], turn.services.db
    appeal = await db.appeals.get(ref)
    if appeal.state != AppealState.DRAFT:
        return turn.t("{ref} was already sent.", ref=ref)
    needed = turn.services.settings.approvals_required
    if appeal.approvals < needed:
        return turn.t(
            "{ref} needs {needed} approvals from different advisors; it has {count}.",
            ref=ref,
            needed=needed,
            count=appeal.approvals,
        )
    if Language.EN not in appeal.texts:
        return turn.t("{ref} needs an English text, the fallback for every group.", ref=ref)
    if appeal.deadline_at is None:
        return turn.t("{ref} needs a deadline: /appeal deadline {ref} YYYY-MM-DD", ref=ref)
    problem = await _consent_problem(turn, appeal)
    if problem:
        return problem
    texts = {lang: f"{text}\n\n{sign_line(lang, ref)}" for lang, text in appeal.texts.items()}
    deliveries = with_sign_button(ref, await audience(turn.services, appeal), texts)
    rooms = [str(room) for room in turn.services.settings.advisory_rooms]
    await db.appeals.send(ref, str(turn.msg.sender), deliveries, rooms)
    before = turn.services.settings.reminder_before_deadline
    if appeal.deadline_at - before > turn.services.clock.now():
        await db.deadlines.schedule(DeadlineKind.APPEAL_REMINDER, ref, appeal.deadline_at - before)
    await db.deadlines.schedule(DeadlineKind.APPEAL_CLOSE, ref, appeal.deadline_at)
    return turn.tn(
        "{ref} is being sent to {n} member group.",
        "{ref} is being sent to {n} member groups.",
        len(deliveries),
        ref=ref,
    )


async def update(turn: Turn, args: Mapping[str, Any]) -> str:
    ref, rest = args["appeal"], args["text"]
    appeal = await turn.services.db.appeals.get(ref)
    if appeal.state != AppealState.SENT:
        return turn.t("Only an open appeal can be updated: /appeal update A-… text")
    digest = hashlib.sha256(rest.strip().encode()).hexdigest()[:8]
    texts = {
        lang: render(lang, "Update to appeal {ref}:", ref=ref) + "\n\n" + rest.strip()
        for lang in LANGUAGES
    }
    groups = await audience(turn.services, appeal)
    deliveries = broadcast.deliveries_for(groups, texts)
    # The same update text is queued once however often it is sent (idempotent).
    await broadcast.queue_broadcast(
        turn.services, BroadcastKind.APPEAL_UPDATE, f"{ref}/{digest}", deliveries
    )
    return turn.t(
        "The update to {ref} is being sent to {count} member groups.",
        ref=ref,
        count=len(deliveries),
    )


async def tally(services: Any, ref: str, language: str) -> str:
    signatures = await services.db.appeals.signatures(ref)
    by_region = Counter(s.region or "?" for s in signatures)
    lines = [
        render_plural(
            language, "{ref}: {n} signature.", "{ref}: {n} signatures.", len(signatures), ref=ref
        )
    ]
    lines += [f"{region}: {count}" for region, count in sorted(by_region.items())]
    return "\n".join(lines)


async def export_files(services: Any, ref: str) -> list[tuple[str, bytes, str]]:
    """The signatories as CSV, and the letter with its list of signatories."""
    appeal = await services.db.appeals.get(ref)
    signatures = await services.db.appeals.signatures(ref)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["organisation", "kind", "country", "region", "signed_at", "via_group"])
    for s in signatures:
        writer.writerow(
            [
                s.organisation,
                s.kind,
                s.country,
                s.region,
                s.at.strftime("%Y-%m-%d %H:%M UTC"),
                "yes" if s.via_group else "no",
            ]
        )
    letter = [appeal.texts.get(Language.EN, ""), "", "Signatories:"]
    letter += [
        f"- {s.organisation} ({s.country})" if s.country else f"- {s.organisation}"
        for s in signatures
    ]
    return [
        (f"{ref}-signatories.csv", table.getvalue().encode(), "text/csv"),
        (f"{ref}-letter.txt", "\n".join(letter).encode(), "text/plain"),
    ]


async def status(turn: Turn, args: Mapping[str, Any]) -> str:
    return await tally(turn.services, args["appeal"], turn.language)


async def export(turn: Turn, args: Mapping[str, Any]) -> None:
    ref = args["appeal"]
    for name, data, mime in await export_files(turn.services, ref):
        await turn.services.post.send_file(turn.chat, name, data, mime, ref)


async def run(turn: Turn, action: Action, args: Mapping[str, Any]) -> None:
    """One ``/appeal`` subcommand (the router lets only advisors in)."""
    try:
        answer = await action(turn, args)
    except NotFound:
        answer = turn.t("No such appeal or case.")
    except Conflict:
        answer = turn.t("That appeal cannot be changed now (it was already sent or closed).")
    if answer:
        await turn.say(answer)

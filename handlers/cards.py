"""Case cards: what the advisory rooms see of a new case (docs/spec.md §4).

In a room that is not end-to-end encrypted the card holds metadata only
(reference, urgency, consent, channel, time), unless the configuration
explicitly allows content there. Place and who is at risk count as content:
they can name people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handlers import files, rooms, vocab
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.services import Services
from handlers.textsafe import inline, quoted
from storage import CaseDetail, Consent, Urgency

# How a card names an urgency or a consent (their values never collide).
LABELS: dict[str, str] = {
    Urgency.IMMEDIATE: N_("IMMEDIATE (hours)"),
    Urgency.DAYS: N_("days"),
    Urgency.WEEKS: N_("weeks"),
    Consent.ADVISORY_ONLY: N_("advisory group only"),
    Consent.TRUSTED_PARTNERS: N_("may be shared with trusted partners"),
    Consent.PUBLIC_NAMED: N_("public appeal with names"),
    Consent.PUBLIC_ANONYMISED: N_("public appeal, anonymised"),
    Consent.ASK_FIRST: N_("public appeal only after the defender approves its text"),
}


def card_text(
    case: CaseDetail,
    language: str,
    with_content: bool,
    *,
    sos: bool = False,
    tags: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """The card's text; ``tags`` (the case's /tag fields) are content: shown
    only ``with_content``, like the place and the people at risk."""

    def t(message: str, **params: Any) -> str:
        return render(language, message, **params)

    head = t("🆘 SOS — new case {ref}", ref=case.ref) if sos else t("New case {ref}", ref=case.ref)
    lines = [
        head,
        t("Urgency: {value}", value=t(LABELS[case.urgency])),
        t("Consent: {value}", value=t(LABELS[case.consent])),
        t("Channel: {value}", value=case.channel),
        t("Received: {value}", value=case.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if with_content:
        none = t("(not given)")
        lines += vocab.tag_lines(tags or {}, language)
        # The defender's words: inline fields on one line without controls,
        # the report quoted line by line, so none can pass for a bot line.
        lines += [
            t("Where: {value}", value=inline(case.where or "") or none),
            t("Who is at risk: {value}", value=inline(case.who or "") or none),
            "",
            t("Report:"),
            quoted(case.what) if case.what else none,
        ]
        if case.attachments:
            lines.append(t("Files: {count} (sent below)", count=len(case.attachments)))
    else:
        lines += [
            "",
            t(
                "This room is not end-to-end encrypted, so the report itself is not shown here. "
                "Read it with /case {ref} in a private chat with the bot.",
                ref=case.ref,
            ),
        ]
    lines.append(t("Reply to this card, or use /ack {ref}.", ref=case.ref))
    return "\n".join(lines)


async def content_allowed(services: Services, room: Address) -> bool:
    if services.settings.allow_content_in_unencrypted_rooms:
        return True
    return await services.hub.is_encrypted(room)


async def post_case_card(services: Services, ref: str, *, sos: bool = False) -> int:
    """Queue the card of ``ref`` (and, where content may be shown, its files) for
    every advisory room; how many rooms it was queued for. The outbox delivers
    it (retrying until a room takes it); its delivery releases the defender's
    confirmation (``Kind.CONFIRM``)."""
    case = await services.db.cases.get(ref)
    tags = (await services.db.casefile.get(ref)).tags  # the intake's country, if given
    language = services.settings.default_language

    async def post(room: Address) -> None:
        with_content = await content_allowed(services, room)
        text = card_text(case, language, with_content, sos=sos, tags=tags)
        await services.post.send_text(room, text, kind=Kind.CARD, ref=case.ref, language=language)
        # Voice, video and locations only where the room is end-to-end encrypted.
        await files.send_to_room(services, room, case.ref, case.attachments, content=with_content)

    return await rooms.each_room(services, post)


async def tags_changed(
    services: Services, ref: str, tags: Mapping[str, Iterable[str]], *, skip: Address | None
) -> int:
    """Tell every advisory room (but ``skip``, which has the /tag reply) that the
    case's tags changed: the values where content may be shown, else a pointer.

    Cards are never edited in place: the outbox queues new messages only
    (an edit of a card sent long ago would need the card's message id on
    each platform and an edit operation in the dispatcher), so the change
    follows the card as a short line under the case reference."""
    language = services.settings.default_language

    async def post(room: Address) -> None:
        if room == skip:
            return
        if await content_allowed(services, room):
            lines = vocab.tag_lines(tags, language) or [render(language, "(none)")]
            text = "\n".join([render(language, "Tags of {ref} changed:", ref=ref), *lines])
        else:
            text = render(
                language,
                "Tags of {ref} changed. This room is not end-to-end encrypted: /case {ref} "
                "in an encrypted chat shows them.",
                ref=ref,
            )
        await services.post.send_text(room, text, kind=Kind.NOTICE, ref=ref, language=language)

    return await rooms.each_room(services, post)

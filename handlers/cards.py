"""Case cards: what the advisory rooms see of a new case (docs/spec.md §4).

In a room that is not end-to-end encrypted the card holds metadata only
(reference, urgency, consent, channel, time), unless the configuration
explicitly allows content there. Place and who is at risk count as content:
they can name people.
"""

from __future__ import annotations

from typing import Any

from handlers import rooms
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.services import Services
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
}


def card_text(case: CaseDetail, language: str, with_content: bool, *, sos: bool = False) -> str:
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
        lines += [
            t("Where: {value}", value=case.where or none),
            t("Who is at risk: {value}", value=case.who or none),
            "",
            t("Report:"),
            case.what or none,
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
    language = services.settings.default_language

    async def post(room: Address) -> None:
        with_content = await content_allowed(services, room)
        text = card_text(case, language, with_content, sos=sos)
        await services.post.send_text(room, text, kind=Kind.CARD, ref=case.ref, language=language)
        if with_content:
            for attachment in case.attachments:
                data = await services.db.cases.attachment_data(attachment.id)
                await services.post.send_file(
                    room, attachment.filename, data, attachment.mime_type, case.ref
                )

    return await rooms.each_room(services, post)

"""Case cards: what the advisory rooms see of a new case (SPEC §4).

In a room that is not end-to-end encrypted the card holds metadata only
(reference, urgency, consent, channel, time), unless the configuration
explicitly allows content there. Place and who is at risk count as content:
they can name people.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from handlers.i18n import N_, render
from handlers.messages import Address, Attachment
from handlers.messenger import DestinationGone, TransientSendError
from handlers.services import Services
from storage import CaseDetail

log = logging.getLogger(__name__)

URGENCY_LABELS = {
    "immediate": N_("IMMEDIATE (hours)"),
    "days": N_("days"),
    "weeks": N_("weeks"),
}
CONSENT_LABELS = {
    "advisory_only": N_("advisory group only"),
    "trusted_partners": N_("may be shared with trusted partners"),
    "public_named": N_("public appeal with names"),
    "public_anonymised": N_("public appeal, anonymised"),
    "ask_first": N_("public appeal only after the defender approves its text"),
}


def draft_attachment(attachment: Attachment) -> dict[str, Any]:
    """An attachment as it sits in the (encrypted) draft."""
    return {
        "filename": attachment.filename,
        "mime_type": attachment.mime_type,
        "data": base64.b64encode(attachment.data).decode("ascii"),
    }


def attachments_from_draft(data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    return [
        (a["filename"], a["mime_type"], base64.b64decode(a["data"]))
        for a in data.get("attachments", [])
    ]


def card_text(case: CaseDetail, language: str, with_content: bool, *, sos: bool = False) -> str:
    def t(message: str, **params: Any) -> str:
        return render(language, message, **params)

    head = t("🆘 SOS — new case {ref}", ref=case.ref) if sos else t("New case {ref}", ref=case.ref)
    lines = [
        head,
        t("Urgency: {value}", value=t(URGENCY_LABELS[case.urgency])),
        t("Consent: {value}", value=t(CONSENT_LABELS[case.consent])),
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
    """Post the card of ``ref`` to every advisory room; how many rooms got it."""
    case = await services.db.cases.get(ref)
    language = services.settings.default_language
    delivered = 0
    for room in services.settings.advisory_rooms:
        if not services.hub.serves(room.platform):
            continue
        try:
            with_content = await content_allowed(services, room)
            sent = await services.hub.send_text(
                room, card_text(case, language, with_content, sos=sos)
            )
            await services.db.cases.record_card(ref, str(room), sent.message_id)
            from handlers import files  # files uses this module's content rule

            await files.send_to_room(services, room, case.ref, case.attachments)
            delivered += 1
        except (DestinationGone, TransientSendError) as exc:
            log.error("case card not delivered to an advisory room: %s", type(exc).__name__)
    return delivered


async def tell_rooms(services: Services, message: str, **params: Any) -> None:
    """A short notice (no content) to every advisory room."""
    text = render(services.settings.default_language, message, **params)
    for room in services.settings.advisory_rooms:
        if services.hub.serves(room.platform):
            try:
                await services.hub.send_text(room, text)
            except (DestinationGone, TransientSendError) as exc:
                log.error("notice not delivered to an advisory room: %s", type(exc).__name__)

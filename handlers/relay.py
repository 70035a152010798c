"""The two-way relay between the advisory group and a defender (docs/spec.md §3, §4).

``/ask`` reaches the defender as a message from "the advisory group"; the
defender's answer returns to the triage rooms under the case reference.
Neither side learns the other's account: the bot is always in between.
"""

from __future__ import annotations

import logging

from handlers import cards, rooms
from handlers.conversation import record
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.services import Services
from handlers.textsafe import quoted
from handlers.turn import Turn
from storage.errors import NotFound
from storage.records import CaseState

log = logging.getLogger(__name__)


async def to_defender(services: Services, ref: str, text: str) -> bool:
    case = await services.db.cases.get(ref)
    if case.reporter_account_id is None or case.withdrawn:
        return False
    followup_runs = case.followup_at is not None and case.followup_at > services.clock.now()
    if case.state == CaseState.CLOSED and not followup_runs:
        return False  # after /close, /ask stays open while the follow-up period runs
    try:
        address = await services.db.accounts.address_of(case.reporter_account_id)
    except NotFound:
        return False
    account = await services.db.accounts.get(case.reporter_account_id)
    language = account.language or services.settings.default_language
    message = render(
        language,
        "Message from the advisory group about your case {ref}:\n\n{text}\n\n"
        "Reply here: for the next {minutes} minutes everything you send (text, photos, "
        "files, voice) goes to them.",
        ref=ref,
        text=text,
        minutes=int(services.settings.conversation_window.total_seconds() // 60),
    )
    chat = Address.parse(address)
    if not services.hub.serves(chat.platform):
        return False
    await services.post.send_text(
        chat,
        message,
        kind=Kind.QUESTION,
        ref=f"{ref}/{services.clock.now():%Y%m%d%H%M%S%f}",
        language=language,
    )
    # The conversation window (handlers/conversation/after_ask.py): until when
    # everything the defender sends goes to the rooms.
    until = services.clock.now() + services.settings.conversation_window
    await record.await_reply(services, case.reporter_account_id, ref, until)
    return True


async def undeliverable(services: Services, question_ref: str) -> None:
    """The advisory group's message to a defender could not be delivered: tell the rooms
    (the defender blocked the bot or deleted the chat)."""
    ref = question_ref.partition("/")[0]
    await rooms.notice(
        services, N_("The defender of {ref} cannot be reached (withdrawn or unreachable)."), ref=ref
    )


async def to_rooms(services: Services, ref: str, text: str) -> None:
    language = services.settings.default_language

    async def relay(room: Address) -> None:
        if await cards.content_allowed(services, room):
            message = render(
                language, "The defender answers on {ref}:\n\n{text}", ref=ref, text=quoted(text)
            )
        else:
            message = render(
                language,
                "The defender answered on {ref}. This room is not end-to-end encrypted: "
                "read it with /case {ref} in a private chat with the bot.",
                ref=ref,
            )
        await services.post.send_text(room, message, kind=Kind.RELAY, language=language)

    await rooms.each_room(services, relay)


async def forward(turn: Turn, ref: str, text: str) -> None:
    await turn.services.db.cases.add_update(ref, turn.account.id, text)
    await to_rooms(turn.services, ref, text)
    await turn.say(turn.t("Sent to the advisory group under {ref}.", ref=ref))

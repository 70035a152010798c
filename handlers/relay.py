"""The two-way relay between the advisory group and a defender (SPEC §3, §4).

``/ask`` reaches the defender as a message from "the advisory group"; the
defender's answer returns to the triage rooms under the case reference.
Neither side learns the other's account: the bot is always in between.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers import cards
from handlers.i18n import N_, render
from handlers.messages import Address, Option
from handlers.messenger import DestinationGone, TransientSendError
from handlers.services import Services
from handlers.turn import Turn, resolve_choice
from storage.errors import NotFound

log = logging.getLogger(__name__)


async def to_defender(services: Services, ref: str, text: str) -> bool:
    case = await services.db.cases.get(ref)
    if case.reporter_account_id is None or case.withdrawn:
        return False
    followup_runs = case.followup_at is not None and case.followup_at > services.clock.now()
    if case.state == "closed" and not followup_runs:
        return False  # after /close, /ask stays open while the follow-up period runs
    try:
        address = await services.db.accounts.address_of(case.reporter_account_id)
    except NotFound:
        return False
    account = await services.db.accounts.get(case.reporter_account_id)
    language = account.language or services.settings.default_language
    message = render(
        language,
        "Message from the advisory group about your case {ref}:\n\n{text}\n\nReply here to answer.",
        ref=ref,
        text=text,
    )
    try:
        await services.hub.send_text(Address.parse(address), message)
    except (DestinationGone, TransientSendError) as exc:
        log.warning("relay to a defender failed: %s", type(exc).__name__)
        return False
    # Whatever the defender writes next answers this question, even in the
    # middle of a report draft (which resumes after the answer).
    conversation = await services.db.conversations.load(case.reporter_account_id)
    state, data = (conversation.state, dict(conversation.data)) if conversation else ("idle", {})
    data["pending"] = {"kind": "reply", "ref": ref}
    await services.db.conversations.save(case.reporter_account_id, state, data)
    return True


async def to_rooms(services: Services, ref: str, text: str, files: int = 0) -> None:
    language = services.settings.default_language
    for room in services.settings.advisory_rooms:
        if not services.hub.serves(room.platform):
            continue
        if await cards.content_allowed(services, room):
            message = render(
                language, "The defender answers on {ref}:\n\n{text}", ref=ref, text=text
            )
        else:
            message = render(
                language,
                "The defender answered on {ref}. This room is not end-to-end encrypted: "
                "read it with /case {ref} in a private chat with the bot.",
                ref=ref,
            )
        try:
            await services.hub.send_text(room, message)
        except (DestinationGone, TransientSendError) as exc:
            log.error("relay to an advisory room failed: %s", type(exc).__name__)


async def forward(turn: Turn, ref: str, text: str) -> None:
    await turn.services.db.cases.add_update(ref, turn.account.id, text)
    await to_rooms(turn.services, ref, text)
    await turn.say(turn.t("Sent to the advisory group under {ref}.", ref=ref))


async def from_defender(turn: Turn, data: dict[str, Any]) -> bool:
    """A defender's free message with no draft open: relay it to their case.

    Returns False when the defender has no open case (the caller then
    explains what they can do).
    """
    text = turn.msg.text.strip()
    if not text:
        return False
    cases = [
        c for c in await turn.services.db.cases.cases_of(turn.account.id) if c.state != "closed"
    ]
    if not cases:
        return False
    if len(text) > turn.services.settings.max_text_chars:
        await turn.say(turn.t("That message is too long. Nothing was saved."))
        return True
    if len(cases) == 1:
        await forward(turn, cases[0].ref, text)
        return True
    data["pending"] = {"kind": "which_case", "text": text, "refs": [c.ref for c in cases]}
    await turn.ask(
        turn.t("Which case is this about?"), [Option(f"case:{c.ref}", c.ref) for c in cases]
    )
    return True


async def answer_which_case(turn: Turn, pending: dict[str, Any]) -> bool:
    options = [Option(f"case:{ref}", ref) for ref in pending["refs"]]
    key = resolve_choice(turn.msg, options)
    if key is None:
        return False
    await forward(turn, key.split(":", 1)[1], pending["text"])
    return True


__all__ = ["N_", "answer_which_case", "forward", "from_defender", "to_defender", "to_rooms"]

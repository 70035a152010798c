"""A conversation with the advisory group after ``/ask`` (issue 15, item 3).

``/ask`` opens a window (``Settings.conversation_window``, 30 minutes by
default): everything the defender sends in it — text, photos, files, voice,
video, a location — goes to the triage rooms under the case reference,
until the window closes or the defender presses "Done". The window lives in
the defender's conversation record (the open question ``AwaitedReply``,
with an ``until`` time), so it survives a restart.

While a report draft is open, the first message still answers and the draft
then resumes (the defender is in the middle of something; one answer is
what the advisors asked for).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from handlers import file_gate, files, keys, relay, rooms
from handlers.conversation import steps
from handlers.conversation.record import AwaitedReply, Conversation, State, save
from handlers.i18n import N_
from handlers.keys import Kind
from handlers.messages import AttachmentKind, Option
from handlers.turn import Turn
from storage.records import AttachmentInfo

DONE = keys.make(Kind.CONVERSATION, "done")


def done_option(turn: Turn) -> Option:
    return Option(DONE, turn.t("Done"))


def file_problem(turn: Turn) -> str | None:
    """Why the message's files cannot be taken (None when they can)."""
    settings = turn.services.settings
    for attachment in turn.msg.attachments:
        if attachment.kind is AttachmentKind.OTHER:
            return turn.t(
                "I can take text, photos, documents, voice notes, videos and locations only. "
                "Nothing was saved."
            )
        if attachment.size > settings.max_attachment_bytes:
            return turn.t(
                "That file is too large ({limit} MB at most). Nothing was saved.",
                limit=settings.max_attachment_bytes // 1_000_000,
            )
    return file_gate.unfetched_problem(turn)


async def files_to_rooms(turn: Turn, ref: str, infos: Sequence[AttachmentInfo]) -> None:
    await files.to_rooms(turn.services, ref, infos)


async def answer(turn: Turn, conversation: Conversation) -> bool:
    """The defender's message while a reply to ``/ask`` is expected; False if it is not one."""
    pending = conversation.pending
    assert isinstance(pending, AwaitedReply)
    services, msg, ref = turn.services, turn.msg, pending.ref
    drafting = conversation.state is not State.IDLE
    if msg.choice == DONE:
        await _close(turn, conversation)
        await turn.say(turn.t("Thank you. Write again any time; /status shows your case."))
        if drafting:
            await steps.ask(turn, conversation)
        return True
    if msg.choice is not None:
        return False  # a button of the draft
    if pending.until is not None and services.clock.now() >= datetime.fromisoformat(pending.until):
        await _close(turn, conversation)
        return False  # the window closed: the message is handled as usual
    text = msg.text.strip()
    if not text and not msg.attachments:
        return False
    if len(text) > services.settings.max_text_chars:
        await turn.say(steps.too_long(turn))
        return True
    problem = file_problem(turn)
    if problem:
        await turn.say(problem)
        return True
    attachments = [(a.filename, a.mime_type, a.data) for a in msg.attachments]
    event = await services.db.cases.add_update(ref, turn.account.id, text, attachments)
    if text:
        await relay.to_rooms(services, ref, text)
    else:
        await rooms.notice(
            services, N_("The defender sent files on {ref}. /case {ref} shows them."), ref=ref
        )
    await files.to_rooms(services, ref, event.attachments)
    if drafting or pending.until is None:
        await _close(turn, conversation)
        await turn.say(turn.t("Sent to the advisory group under {ref}.", ref=ref))
        if drafting:
            await turn.say(turn.t("Now let us continue your report."))
            await steps.ask(turn, conversation)
        return True
    # The same receipt as a single answer, with the button that ends the conversation.
    await turn.ask(turn.t("Sent to the advisory group under {ref}.", ref=ref), [done_option(turn)])
    return True


async def _close(turn: Turn, conversation: Conversation) -> None:
    conversation.pending = None
    await save(turn.services, turn.account.id, conversation)

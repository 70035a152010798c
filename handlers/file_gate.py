"""Whether a message's files are worth fetching at all (issue 13).

A transport asks before it downloads a photo, a document, a voice note or a
video (up to the attachment limit, 10 MB by default): a file nobody will
take costs the network's bandwidth and puts a person's file in the bot's
memory for nothing, and a flood of them is a cheap way to load the server.
``Router.takes_files`` answers, in this order: the sender is within the
rate limit; the message is a command that takes files (``/update`` in a
private chat, ``/propose`` in a member group), or, in a private chat, the
sender's conversation is where files are taken (the report's first
question, or the window of a reply to ``/ask``).

The answer needs the neutral message only (no file, no platform type). When
it is no, the transport delivers the message with its files unfetched
(``Attachment.fetched`` False) and the person gets the usual one clear
message: "too fast", "files belong to the first question", and so on. The
steps that take files refuse an unfetched one (``unfetched_problem``): it
can only reach them if the conversation changed between the question and
the turn (an advisor's ``/ask`` in between), and the person is asked to
send it again.
"""

from __future__ import annotations

from datetime import datetime

from handlers.conversation.record import AwaitedReply, State, load
from handlers.messages import AttachmentKind, IncomingMessage
from handlers.services import Services
from handlers.turn import Turn

FILE_COMMANDS = frozenset({"update", "propose"})
"""Commands whose caption may carry files (handlers/conversation/commands.py
``update``, handlers/proposals.py ``propose``)."""


async def conversation_takes_files(services: Services, msg: IncomingMessage) -> bool:
    """In a private chat without a command: does the sender's conversation take files now?"""
    if not msg.is_private or msg.edited or msg.choice is not None:
        return False
    account = await services.db.accounts.find(str(msg.sender))
    if account is None:
        return False  # a first message: no report open, nothing asked
    conversation = await load(services, account.id)
    pending = conversation.pending
    if isinstance(pending, AwaitedReply):
        if pending.until is None or services.clock.now() < datetime.fromisoformat(pending.until):
            return True
    return conversation.state is State.WHAT


def unfetched_problem(turn: Turn) -> str | None:
    """A file the transport did not fetch (see the module's docstring), or None."""
    if any(not a.fetched for a in turn.msg.attachments):
        return turn.t("Something went wrong and nothing was saved. Please send it again.")
    return None


def attachment_problem(turn: Turn, already: int) -> str | None:
    """Why the message's files cannot be taken (``already``: files the report
    holds), or None. The report's first step, /update and /propose share these limits."""
    settings = turn.services.settings
    attachments = turn.msg.attachments
    for attachment in attachments:
        if attachment.kind is AttachmentKind.OTHER:
            return turn.t("I can take text, photos and documents only. Nothing was saved.")
        if attachment.size > settings.max_attachment_bytes:
            return turn.t(
                "That file is too large ({limit} MB at most). Nothing was saved.",
                limit=settings.max_attachment_bytes // 1_000_000,
            )
    unfetched = unfetched_problem(turn)
    if unfetched:
        return unfetched
    if already + len(attachments) > settings.max_attachments_per_report:
        return turn.t(
            "A report can hold {limit} files at most. Nothing more was saved.",
            limit=settings.max_attachments_per_report,
        )
    return None

"""The conversation record: where a defender stands, typed.

It is stored (encrypted, by ``storage.repos.conversations``) as a state
word and a JSON object; these types read and write that object, so records
written before a restart, or by an older version, resume as they were.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from handlers.messages import Attachment
from handlers.services import Services
from storage.records import AttachmentInput


class State(StrEnum):
    IDLE = "idle"  # no report being written (no record unless a question is open)
    WHAT = "what"
    WHERE = "where"
    COUNTRY = "country"  # asked when ``[casework]`` offers countries
    WHO = "who"
    URGENCY = "urgency"
    CONSENT = "consent"
    CONTACT = "contact"
    SUMMARY = "summary"  # confirm, change an answer, or cancel
    EDIT = "edit"  # which answer to change


def stored_file(attachment: Attachment) -> dict[str, str]:
    """A file as it sits in the (encrypted) draft."""
    return {
        "filename": attachment.filename,
        "mime_type": attachment.mime_type,
        "data": base64.b64encode(attachment.data).decode("ascii"),
    }


def decoded_files(files: list[dict[str, str]]) -> list[AttachmentInput]:
    return [(f["filename"], f["mime_type"], base64.b64decode(f["data"])) for f in files]


@dataclass
class Draft:
    """The report being written. An answer is None until given ("" if skipped)."""

    what: list[str] = field(default_factory=list)  # one entry per message
    attachments: list[dict[str, str]] = field(default_factory=list)
    where: str | None = None
    country: str | None = None  # an ISO code ("" skipped); becomes the case's country tag
    who: str | None = None
    urgency: str | None = None
    consent: str | None = None
    contact: str | None = None
    sos_ref: str | None = None  # the case /sos created: confirming completes it
    editing: bool = False  # changing one answer: back to the summary after it

    ANSWERS: ClassVar = ("where", "country", "who", "urgency", "consent", "contact")

    def answer(self, step: State) -> str | None:
        value = getattr(self, step.value)
        return value if isinstance(value, str) else None

    def set_answer(self, step: State, value: str) -> None:
        assert step.value in self.ANSWERS
        setattr(self, step.value, value)

    def files(self) -> list[AttachmentInput]:
        return decoded_files(self.attachments)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: v for k, v in vars(self).items() if v not in (None, False, [])}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# -- the open question ----------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A question the bot asked outside the report's steps; ``KIND`` names it
    in the stored record."""

    KIND: ClassVar[str]


class LanguageQuestion(Question):
    KIND = "language"


class ForgetQuestion(Question):
    KIND = "forget"


@dataclass(frozen=True)
class AwaitedReply(Question):
    """An advisor asked (``/ask``): the defender's next words are the answer, and
    until ``until`` (ISO time; the conversation window, ``after_ask.py``)
    everything they send goes to the rooms."""

    KIND = "reply"
    ref: str
    until: str | None = None


@dataclass(frozen=True)
class WhichCase(Question):
    """A free message, and several open cases it could be about."""

    KIND = "which_case"
    text: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class CleanupOffer(Question):
    """Delete the report's messages from a Telegram chat: ids from ``first`` to the
    offer's, but the receipt's. The bot's two messages are named by their outbox
    rows (``offer_row``, ``receipt_row``): their ids exist once they are sent."""

    KIND = "cleanup"
    first: str
    offer_row: str
    receipt_row: str


Pending = LanguageQuestion | ForgetQuestion | AwaitedReply | WhichCase | CleanupOffer
_PENDING: dict[str, type[Pending]] = {
    t.KIND: t for t in (LanguageQuestion, ForgetQuestion, AwaitedReply, WhichCase, CleanupOffer)
}


def pending_to_json(pending: Pending) -> dict[str, Any]:
    return {"kind": pending.KIND, **vars(pending)}


def pending_from_json(data: dict[str, Any] | None) -> Pending | None:
    if not data or data.get("kind") not in _PENDING:
        return None
    kind = _PENDING[data["kind"]]
    values = {k: v for k, v in data.items() if k in kind.__dataclass_fields__}
    if kind is WhichCase:
        values["refs"] = tuple(values["refs"])
    if kind is CleanupOffer:
        values = {k: str(v) for k, v in values.items()}
        if set(values) != {"first", "offer_row", "receipt_row"}:
            return None  # an offer of an older version: ids, not rows; it lapses
    return kind(**values)


# -- the record -----------------------------------------------------------------


@dataclass
class Conversation:
    state: State = State.IDLE
    draft: Draft = field(default_factory=Draft)
    pending: Pending | None = None
    first_message_id: str | None = None  # the report's first message (Telegram clean-up)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pending": pending_to_json(self.pending) if self.pending else None,
            "draft": self.draft.to_json(),
        }
        if self.first_message_id is not None:
            data["first_message_id"] = self.first_message_id
        return data

    @classmethod
    def from_record(cls, state: str, data: dict[str, Any]) -> Conversation:
        draft = dict(data.get("draft") or {})
        # Older records marked "choosing which answer to change" by a draft flag.
        chosen = State.EDIT if draft.pop("choosing_edit", False) else State(state)
        return cls(
            chosen,
            Draft.from_json(draft),
            pending_from_json(data.get("pending")),
            data.get("first_message_id"),
        )


async def load(services: Services, account_id: int) -> Conversation:
    record = await services.db.conversations.load(account_id)
    if record is None:
        return Conversation()
    return Conversation.from_record(record.state, dict(record.data))


async def save(services: Services, account_id: int, conversation: Conversation) -> None:
    """Store the record; an idle conversation with no open question has none."""
    if conversation.state is State.IDLE and conversation.pending is None:
        await services.db.conversations.delete(account_id)
    else:
        data = conversation.to_json()
        await services.db.conversations.save(account_id, conversation.state, data)


async def erase(services: Services, account_id: int) -> None:
    await services.db.conversations.delete(account_id)


async def await_reply(
    services: Services, account_id: int, ref: str, until: datetime | None = None
) -> None:
    """An advisor asked about ``ref``: whatever the defender writes next answers
    it, even in the middle of a report draft (which resumes after the answer);
    until ``until`` everything they send goes to the rooms."""
    conversation = await load(services, account_id)
    conversation.pending = AwaitedReply(ref, until.isoformat() if until else None)
    await save(services, account_id, conversation)

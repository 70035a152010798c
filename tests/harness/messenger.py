"""An in-memory messenger for handler tests: it records what was sent."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.messages import Address, Option, Platform, Sent
from handlers.messenger import DestinationGone, TransientSendError


@dataclass
class Outgoing:
    chat: Address
    message_id: str
    text: str
    options: tuple[Option, ...] = ()
    file: tuple[str, bytes, str] | None = None
    reply_to: str | None = None
    txn_id: str | None = None
    deleted: bool = False


@dataclass
class MemoryMessenger:
    platform: Platform = Platform.TELEGRAM
    encrypted_chats: set[Address] = field(default_factory=set)
    forgotten: list[Address] = field(default_factory=list)  # forget_person (after /forget)
    sent_before_forgetting: list[int] = field(default_factory=list)
    """How many messages had been sent when each ``forget_person`` came."""
    gone: set[Address] = field(default_factory=set)
    failing: set[Address] = field(default_factory=set)
    """Chats whose sends fail for now (the platform is down): ``TransientSendError``."""
    sent: list[Outgoing] = field(default_factory=list)
    deletions: list[tuple[Address, str]] = field(default_factory=list)
    """Every delete request, also of messages the person sent (not in ``sent``)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        """Like Telegram: one increasing sequence for both sides of the chats."""
        return str(next(self._ids))

    def _record(self, chat: Address, text: str, **extra: object) -> Sent:
        if chat in self.gone:
            raise DestinationGone(str(chat.platform))
        if chat in self.failing:
            raise TransientSendError(str(chat.platform))
        out = Outgoing(chat, str(next(self._ids)), text, **extra)  # type: ignore[arg-type]
        self.sent.append(out)
        return Sent(chat, out.message_id)

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        return self._record(chat, text, reply_to=reply_to, txn_id=txn_id)

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        return self._record(chat, text, options=tuple(options), txn_id=txn_id)

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        return self._record(chat, caption, file=(filename, data, mime_type))

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        for out in self.sent:
            if out.chat == chat and out.message_id == message_id and not out.deleted:
                out.text = text
                return True
        return False

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        self.deletions.append((chat, message_id))
        for out in self.sent:
            if out.chat == chat and out.message_id == message_id and not out.deleted:
                out.deleted = True
                return True
        return False

    def mention(self, account: Address) -> str:
        return f"@{account.id}"

    async def is_encrypted(self, chat: Address) -> bool:
        # As the Matrix transport: a direct chat with a person (an @user
        # address) is the end-to-end encrypted room the bot makes with them.
        direct = self.platform is Platform.MATRIX and chat.id.startswith("@")
        return direct or chat in self.encrypted_chats

    async def forget_person(self, account: Address) -> None:
        self.forgotten.append(account)
        self.sent_before_forgetting.append(len(self.sent))

    def to(self, chat: Address) -> list[Outgoing]:
        return [out for out in self.sent if out.chat == chat and not out.deleted]

    def last(self, chat: Address) -> Outgoing:
        messages = self.to(chat)
        assert messages, f"nothing was sent to {chat}"
        return messages[-1]

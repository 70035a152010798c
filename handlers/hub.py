"""One messenger over all platforms: it sends through the transport of the
destination's platform, so a Telegram report can reach a Matrix triage room.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.messages import Address, Option, Platform, Sent
from handlers.messenger import DestinationGone, Messenger


class MessengerHub:
    def __init__(self) -> None:
        self._by_platform: dict[Platform, Messenger] = {}

    def register(self, platform: Platform, messenger: Messenger) -> None:
        self._by_platform[platform] = messenger

    def serves(self, platform: Platform) -> bool:
        return platform in self._by_platform

    def _for(self, chat: Address) -> Messenger:
        try:
            return self._by_platform[chat.platform]
        except KeyError:
            raise DestinationGone(f"platform {chat.platform} is not running") from None

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        messenger = self._for(chat)
        if txn_id is None:
            return await messenger.send_text(chat, text, reply_to=reply_to)
        return await messenger.send_text(chat, text, reply_to=reply_to, txn_id=txn_id)

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        messenger = self._for(chat)
        if txn_id is None:
            return await messenger.ask(chat, text, options)
        return await messenger.ask(chat, text, options, txn_id=txn_id)

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        return await self._for(chat).send_file(chat, filename, data, mime_type, caption)

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        return await self._for(chat).edit_text(chat, message_id, text)

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        return await self._for(chat).delete_message(chat, message_id)

    def mention(self, account: Address) -> str:
        messenger = self._by_platform.get(account.platform)
        return messenger.mention(account) if messenger else str(account)

    async def is_encrypted(self, chat: Address) -> bool:
        return await self._for(chat).is_encrypted(chat)

    async def forget_person(self, account: Address) -> None:
        messenger = self._by_platform.get(account.platform)
        if messenger is not None:
            await messenger.forget_person(account)

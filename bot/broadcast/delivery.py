"""One outbox row turned into one platform request (text, question, file, deletion,
leaving a private chat)."""

from __future__ import annotations

from handlers.hub import MessengerHub
from handlers.messages import Address, Option, Sent
from storage.records import OutboxItem


def txn_id(item_id: int) -> str:
    """The idempotency key of one outbox message: the same on every attempt."""
    return f"sosbot.outbox.{item_id}"


async def send_item(hub: MessengerHub, chat: Address, item: OutboxItem) -> Sent | None:
    """Send ``item``; the platform's message (None for a deletion)."""
    text = item.body or ""
    params = dict(item.params)
    if item.op == "file":
        data = item.payload or b""
        name = params.get("name", "file")
        mime = params.get("mime", "application/octet-stream")
        return await hub.send_file(chat, name, data, mime, text)
    if item.op == "delete":
        for message_id in filter(None, params.get("message_ids", "").split(",")):
            await hub.delete_message(chat, message_id)
        return None
    if item.op == "leave":  # after /forget, once the messages queued before it went out
        await hub.forget_person(Address.parse(params.get("person", str(chat))))
        return None
    if item.options:
        tokens = item.tokens or (None,) * len(item.options)
        options = [
            Option(key, label, token)
            for (key, label), token in zip(item.options, tokens, strict=True)
        ]
        return await hub.ask(chat, text, options, txn_id=txn_id(item.id))
    return await hub.send_text(chat, text, txn_id=txn_id(item.id))

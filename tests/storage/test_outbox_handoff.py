"""The rows a unit of work queues are handed to the dispatcher after the commit
exactly as ``Outbox.claim`` would read them back (so the dispatcher need not read
them), and only after the commit (on both backends)."""

from __future__ import annotations

from collections.abc import Sequence

from storage import Database
from storage.records import OutboxItem
from storage.repos.outbox import Message


async def test_handed_rows_are_what_a_claim_reads(db: Database) -> None:
    handed: list[tuple[str, list[OutboxItem]]] = []

    def posted(platform: str, items: Sequence[OutboxItem]) -> None:
        handed.append((platform, list(items)))

    db.on_posted(posted)
    messages = [
        Message("telegram:100", "Your report is saved.", language="es"),
        Message("telegram:100", "Urgent?", op="ask", options=(("u:h", "Hours"), ("u:d", "Days"))),
        Message(
            "telegram:100", "Sign?", options=(("s:1", "Sign"),), tokens=("tok-1",), language="fr"
        ),
        Message("matrix:!room:example.org", "New case C-1", kind="card", ref="C-1"),
        Message(
            "matrix:!room:example.org",
            "a photo",
            kind="file",
            op="file",
            params=(("name", "p.jpg"), ("mime", "image/jpeg")),
            payload=b"\x00\xffJPEG",
        ),
        Message("telegram:100", "", kind="delete", op="delete", params=(("message_ids", "7,8"),)),
        Message("telegram:-5", "Held", kind="confirm", ref="C-1", held=True),
    ]

    async def turn() -> None:
        await db.outbox.post_many(messages)
        assert handed == [], "nothing is handed before the commit"

    await db.run(turn)
    by_platform = {platform: items for platform, items in handed}
    assert sorted(by_platform) == ["matrix", "telegram"]
    claimed = {item.id: item for item in await db.outbox.claim(100, lease=None)}
    items = [item for _, batch in handed for item in batch]
    assert len(items) == len(messages) - 1, "a held message is released later, not handed"
    for item in items:
        assert item == claimed[item.id]


async def test_a_rolled_back_unit_hands_nothing(db: Database) -> None:
    handed: list[object] = []
    db.on_posted(lambda platform, items: handed.append(items))

    async def turn() -> None:
        await db.outbox.post(Message("telegram:100", "never"))
        raise RuntimeError("the turn fails after queueing")

    try:
        await db.run(turn)
    except RuntimeError:
        pass
    assert handed == []
    assert await db.outbox.claim(100, lease=None) == []

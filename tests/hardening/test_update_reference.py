"""The reference of an appeal update is a keyed hash: nothing in the database
lets someone without the master key test a guess of the update's text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.handlers.test_appeals import ready_appeal, say, seed
from tests.harness.bot import ALICE, Harness

TEXT = "The defender was released this morning"


def raw_files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob("sosbot.db*"))


async def test_no_unkeyed_digest_of_the_update_is_stored(bot: Harness, tmp_path: Path) -> None:
    await seed(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    bot.take_broadcasts()
    assert "being sent" in await say(bot, ALICE, f"/appeal update {ref} {TEXT}")
    assert bot.take_broadcasts() == 3
    again = await say(bot, ALICE, f"/appeal update {ref} {TEXT}")
    assert "being sent" in again and bot.take_broadcasts() == 0, "still queued once"
    digest = hashlib.sha256(TEXT.encode()).hexdigest()
    raw = raw_files(tmp_path)
    for length in (8, 12, 16):
        assert digest[:length].encode() not in raw

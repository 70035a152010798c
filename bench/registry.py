"""What the registry benches (``bench.audience``, ``bench.signatures``) share: the
in-memory bot with a registry of many member organisations, its import timed.

Not a bench of its own; it prints the import's figure for the bench that uses it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage import MemberEntry
from tests.harness.bot import Harness, default_settings, make_harness

REGIONS = ("Americas", "Africa", "MENA", "Europe")


def member(n: int, *, groups: tuple[str, ...] = (), contacts: tuple[str, ...] = ()) -> MemberEntry:
    """Member organisation ``n``: English, its region in rotation, reached in its
    ``groups`` or through its ``contacts``."""
    return MemberEntry(
        f"Member {n:05d}",
        region=REGIONS[n % 4],
        languages=("en",),
        groups=groups,
        contacts=contacts,
    )


@asynccontextmanager
async def bot_with_registry(entries: list[MemberEntry], url: str | None) -> AsyncIterator[Harness]:
    """The bot (SQLite in a temporary folder unless ``url`` names PostgreSQL, no
    sending limit) with ``entries`` imported; prints how long the import took."""
    with tempfile.TemporaryDirectory() as folder:
        bot = await make_harness(Path(folder), default_settings(messages_per_minute=10**6), url)
        try:
            started = time.perf_counter()
            await bot.db.members.import_members(entries)
            took = time.perf_counter() - started
            print(f"registry: {len(entries)} members imported in {took:.1f} s")
            yield bot
        finally:
            await bot.close()

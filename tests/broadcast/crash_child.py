"""The bot in a process of its own, for the SIGKILL test (not a test module).

    python -m tests.broadcast.crash_child BASE_URL DATA_PATH TRIAGE_CHAT_ID

Prints "ready" once running, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.broadcast.conftest import build_bot


async def main(base_url: str, path: str, triage_id: str) -> None:
    app = await build_bot(base_url, Path(path), int(triage_id))
    await app.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

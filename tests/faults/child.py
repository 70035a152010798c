"""The bot in a process of its own that SIGKILLs itself right after its Nth
database commit once armed: the fault tests' hook (not a test module).

    python -m tests.faults.child BASE_URL DATA_PATH TRIAGE_CHAT_ID KILL_AT [DATABASE_URL]

Prints "ready" once running; a line "arm" on stdin starts the count (answered
with "armed"). KILL_AT 0 never kills. Commits are counted after they are
durable (SQLAlchemy's ``after_commit``), so the kill lands between two commits,
the way a power cut at any moment leaves the database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.broadcast.conftest import build_bot


def install_killer(kill_at: int) -> dict[str, Any]:
    state: dict[str, Any] = {"armed": False, "commits": 0}

    @event.listens_for(Session, "after_commit")
    def _after_commit(session: Session) -> None:
        if not state["armed"] or kill_at <= 0:
            return
        state["commits"] += 1
        if state["commits"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    return state


async def main(base_url: str, path: str, triage_id: str, kill_at: str, url: str = "") -> None:
    state = install_killer(int(kill_at))
    app = await build_bot(base_url, Path(path), int(triage_id), database_url=url or None)
    await app.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            await asyncio.Event().wait()
        if line.strip() == "arm":
            state["armed"] = True
            print("armed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))

"""Bot processes for the fault tests, forked from one that imported everything
once (a fresh interpreter per kill costs seconds; a fork, milliseconds).

    python -m tests.faults.child

reads lines ``run BASE_URL DATA_PATH TRIAGE_CHAT_ID KILL_AT ADVISORS [DATABASE_URL]`` on
stdin (ADVISORS: Telegram user ids joined by commas, or ``-``). For
each it forks a bot process and prints ``pid N``; the bot prints ``up N`` once
started; when it ends the zygote prints ``ended N``. The bot SIGKILLs itself right after its KILL_AT-th
database commit counted from the moment the file DATA_PATH/arm exists (0:
never; -1: right before the first, which is lost). Commits are counted once durable (SQLAlchemy's ``after_commit``), so
the kill lands between two commits, the way a power cut at any moment
leaves the database. Not a test module.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from storage.engine import READ_ONLY
from tests.broadcast.conftest import build_bot

TRACE: list[str] = []


def install_killer(arm: Path, kill_at: int) -> None:
    commits = 0
    if os.environ.get("FAULT_TRACE"):
        from sqlalchemy.engine import Engine

        @event.listens_for(Engine, "before_cursor_execute")
        def _trace(conn: object, cursor: object, statement: str, *args: object) -> None:
            TRACE.append(" ".join(statement.split())[:50])

    def counted(session: Session) -> bool:
        if kill_at == 0 or not arm.exists():
            return False
        if session.get_nested_transaction() is not None:
            return False  # a SAVEPOINT released inside the unit of work, not a commit
        options = session.get_bind().get_execution_options()
        # A read (the dispatcher looking for work): nothing to lose there.
        return not (options.get(READ_ONLY) or options.get("postgresql_readonly"))

    @event.listens_for(Session, "before_commit")
    def _before_commit(session: Session) -> None:
        # KILL_AT -1: the first commit never becomes durable (the turn itself is lost).
        if kill_at < 0 and counted(session):
            os.kill(os.getpid(), signal.SIGKILL)

    @event.listens_for(Session, "after_commit")
    def _after_commit(session: Session) -> None:
        nonlocal commits
        if kill_at <= 0 or not counted(session):
            return
        commits += 1
        if os.environ.get("FAULT_TRACE"):
            print(f"commit {commits}: {' | '.join(TRACE[-6:])}", file=sys.stderr, flush=True)
            TRACE.clear()
        if commits == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


async def bot(
    base_url: str, path: str, triage_id: str, advisors: list[int], url: str | None
) -> None:
    app = await build_bot(base_url, Path(path), int(triage_id), database_url=url, advisors=advisors)
    await app.start()
    print(f"up {os.getpid()}", flush=True)  # started: its own start-up commits are done
    await asyncio.Event().wait()


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command != "run":
            continue
        base_url, path, triage_id, kill_at, listed, *url = args  # url: PostgreSQL, or none
        advisors = [int(n) for n in listed.split(",") if n != "-"]
        pid = os.fork()
        if pid == 0:  # the bot
            install_killer(Path(path) / "arm", int(kill_at))
            asyncio.run(bot(base_url, path, triage_id, advisors, url[0] if url else None))
            os._exit(0)
        print(f"pid {pid}", flush=True)
        os.waitpid(pid, 0)
        print(f"ended {pid}", flush=True)


if __name__ == "__main__":
    main()

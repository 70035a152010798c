"""An attacker with a copy of the SQLite file, its ``-wal`` and the master key.

Every commit in the write-ahead log is a consistent earlier state of the
database: cut a copy of the ``-wal`` right after any commit frame and
SQLite opens the database as it was then. ``recoverable_texts`` does that
for every commit the ``-wal`` holds and reads every case with the key,
which is what someone who seized the server's disk could do.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
from datetime import UTC, datetime
from pathlib import Path

from storage import Database
from storage.errors import StorageError

WAL_HEADER = 32
FRAME_HEADER = 24


def commit_offsets(wal: bytes) -> list[int]:
    """The length of the ``-wal`` cut right after each commit frame."""
    if len(wal) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    frame = FRAME_HEADER + page_size
    offsets = []
    for start in range(WAL_HEADER, len(wal) - frame + 1, frame):
        if struct.unpack(">I", wal[start + 4 : start + 8])[0]:  # db size: a commit frame
            offsets.append(start + frame)
    return offsets


def _draft_owners(copy: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        return [row[0] for row in conn.execute("SELECT account_id FROM conversations")]


def _states(db_file: Path, work: Path) -> list[Path]:
    """Copies of the database as of every commit the ``-wal`` holds."""
    wal_file = db_file.with_name(db_file.name + "-wal")
    wal = wal_file.read_bytes() if wal_file.exists() else b""
    main = db_file.read_bytes()
    copies = []
    for n, cut in enumerate(commit_offsets(wal)):
        copy = work / f"state{n}" / "copy.db"
        copy.parent.mkdir(parents=True)
        copy.write_bytes(main)
        copy.with_name("copy.db-wal").write_bytes(wal[:cut])
        copies.append(copy)
    return copies


async def recoverable_texts(db_file: Path, key: bytes, work: Path) -> set[str]:
    """Every case text (and draft, as JSON) readable in any state the ``-wal`` holds."""
    found: set[str] = set()
    for copy in _states(db_file, work):
        try:
            db = await Database.open(f"sqlite+aiosqlite:///{copy}", key, lambda: datetime.now(UTC))
        except StorageError:
            continue  # a state before the schema existed
        try:
            for case in await db.cases.list_cases("all"):
                try:
                    detail = await db.cases.get(case.ref)
                except StorageError:
                    continue
                found.update(t for t in (detail.what, detail.where, detail.who) if t)
                for event in await db.cases.history(case.ref):
                    if event.text:
                        found.add(event.text)
            for account_id in _draft_owners(copy):
                draft = await db.conversations.load(account_id)
                if draft is not None:
                    found.add(json.dumps(draft.data, ensure_ascii=False))
        finally:
            await db.close()
    return found

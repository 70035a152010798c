"""A seized database file must not reveal who reported what.

Known report text, account ids, chat ids and file content go in through the
repositories; then the raw SQLite files (database, -wal, -journal, -shm) and
a PostgreSQL pg_dump are scanned for them, as text and as hex (pg_dump
prints bytea as hex, so a plaintext bytea would hide from a text search).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from storage import Database
from tests.servers.postgres import PostgresServer
from tests.storage.conftest import Clock

REPORT = "Soldiers threatened Mariela Quintero at the Tumaco office"
ACCOUNT_NUMBER = "5550173942"
ACCOUNT = f"telegram:{ACCOUNT_NUMBER}"
MATRIX_ACCOUNT = "matrix:@defender-lucia:example.org"
ROOM_ID = "secrettriageroom"
ROOM = f"matrix:!{ROOM_ID}:example.org"
GROUP_NUMBER = "-1009876543210"
ADVISOR = "matrix:@advisor-alice:example.org"
NEEDLES = [
    REPORT,
    "Quintero",
    "Tumaco",
    ACCOUNT_NUMBER,
    "defender-lucia",
    ROOM_ID,
    GROUP_NUMBER,
    "advisor-alice",
    "Signal +57 300 555 0199",
    "JPEG-PAYLOAD-MARKER",
    "draft-in-progress-Buenaventura",
    "Colectivo de Abogados",
    "olm-pickle-key-MARKER",
]


async def write_everything(db: Database, clock: Clock) -> None:
    ana = await db.accounts.get_or_create(ACCOUNT, "es")
    lucia = await db.accounts.get_or_create(MATRIX_ACCOUNT, "en")
    await db.conversations.save(lucia.id, "where", {"what": "draft-in-progress-Buenaventura"})
    await db.cases.create(
        "C-7K4QM2",
        ana.id,
        "immediate",
        "public_anonymised",
        "telegram",
        what=REPORT,
        where="Tumaco, Nariño",
        who="Mariela Quintero",
        contact="Signal +57 300 555 0199",
        attachments=[("quintero.jpg", "image/jpeg", b"\xff\xd8JPEG-PAYLOAD-MARKER")],
    )
    await db.cases.add_update("C-7K4QM2", ana.id, "Quintero moved to Tumaco safe house")
    await db.cases.assign("C-7K4QM2", ADVISOR, ADVISOR)
    await db.cases.add_note("C-7K4QM2", ADVISOR, "Call Mariela Quintero's lawyer")
    await db.cases.refer("C-7K4QM2", ADVISOR, "legal", "Colectivo de Abogados")
    await db.cases.record_card("C-7K4QM2", ROOM, "$card-event")
    await db.tokens.issue(f"telegram:{GROUP_NUMBER}", "sign:A-9TXW3B", timedelta(hours=1))
    await db.audit.append(ADVISOR, "member.add", None, detail="Quintero")
    await db.outbox.enqueue("relay", "C-7K4QM2", [(ACCOUNT, "es")], body="Quintero, are you safe?")
    await db.deadlines.schedule("ack", "C-7K4QM2", clock.now() + timedelta(minutes=15))
    org = await db.members.upsert_organisation(
        "Colectivo Tumaco Quintero", country="CO", region="Americas", languages=["es"]
    )
    await db.members.add_group(f"telegram:{GROUP_NUMBER}", org.id, "es")
    await db.members.add_contact(org.id, ACCOUNT)
    await db.appeals.create("A-9TXW3B", ADVISOR, "C-7K4QM2")
    await db.appeals.set_text("A-9TXW3B", ADVISOR, "es", "Exigimos protección para Quintero")
    await db.appeals.send("A-9TXW3B", ADVISOR, [], [])
    await db.appeals.sign("A-9TXW3B", org.id, ACCOUNT)
    await db.bot_secrets.put("matrix.store_pickle_key", b"olm-pickle-key-MARKER")


def leaks(blob: bytes) -> list[str]:
    lowered = blob.lower()
    found = []
    for needle in NEEDLES:
        raw = needle.encode()
        if raw.lower() in lowered or raw.hex().encode() in lowered:
            found.append(needle)
    return found


def sqlite_files(path: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-journal", "-shm")))
        if p.exists()
    }


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_files_hold_no_plaintext(
    db: Database, clock: Clock, sqlite_path: Path
) -> None:
    await write_everything(db, clock)
    assert (await db.cases.get("C-7K4QM2")).what == REPORT  # it is all there…
    while_open = sqlite_files(sqlite_path)
    assert sqlite_path.name + "-wal" in while_open
    await db.close()
    after_close = sqlite_files(sqlite_path)
    for name, blob in (*while_open.items(), *after_close.items()):
        assert leaks(blob) == [], f"{name} leaks"


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_postgres_dump_holds_no_plaintext(
    db: Database, clock: Clock, db_url: str, postgres_server: PostgresServer
) -> None:
    await write_everything(db, clock)
    assert (await db.cases.get("C-7K4QM2")).who == "Mariela Quintero"
    dump = postgres_server.dump(db_url.rsplit("/", 1)[1])
    assert b"COPY public.cases" in dump
    assert leaks(dump) == []


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert leaks(b"...soldiers threatened mariela quintero at the tumaco office...")
    assert leaks(b"\\x" + ACCOUNT_NUMBER.encode().hex().encode())

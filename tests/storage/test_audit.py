"""The audit chain: tampering is named, concurrent appends keep it whole."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import Database
from tests.storage.conftest import Clock, raw, tamper

ALICE = "matrix:@alice:example.org"


async def fill(db: Database, count: int = 10, clock: Clock | None = None) -> None:
    for n in range(count):
        await db.audit.append(ALICE, "case.note", f"C-{n:06d}", detail=f"d{n}")
        if clock is not None:
            clock.advance(seconds=1)


async def first_problem(db: Database) -> tuple[int | None, str | None]:
    """What ``verify`` names: the first bad entry and what is wrong with it."""
    verdict = await db.audit.verify()
    return verdict.first_bad_seq, verdict.problem


async def test_an_untouched_log_verifies(db: Database) -> None:
    assert (await db.audit.verify()).ok  # empty
    await fill(db)
    verdict = await db.audit.verify()
    assert verdict.ok and verdict.entries == 10 and verdict.problem is None
    entries = await db.audit.entries()
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].actor == db.audit.pseudonym(ALICE) != ALICE
    assert entries[3].detail == "d3" and entries[3].hash == (await db.audit.entries(3, 1))[0].hash


async def test_the_log_never_holds_raw_addresses(db: Database, db_url: str) -> None:
    await db.audit.append(ALICE, "member.add", None)
    await db.audit.append("system", "retention", None)
    async with raw(db_url) as conn:
        actors = (
            (await conn.execute(text("SELECT actor FROM audit_log ORDER BY seq"))).scalars().all()
        )
    assert actors == [db.audit.pseudonym(ALICE), "system"]
    assert "alice" not in actors[0]


async def test_an_altered_entry_is_named(db: Database, db_url: str) -> None:
    await fill(db)
    await tamper(db_url, "UPDATE audit_log SET action = 'case.close' WHERE seq = 5")
    verdict = await db.audit.verify()
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 5, "altered")
    assert "entry 5 altered" in verdict.message


async def test_an_altered_detail_or_time_is_named(db: Database, db_url: str, clock: Clock) -> None:
    await fill(db, clock=clock)
    await tamper(
        db_url,
        "UPDATE audit_log SET detail_enc = "
        "(SELECT detail_enc FROM audit_log WHERE seq = 2) WHERE seq = 7",
    )
    assert await first_problem(db) == (7, "altered")
    await tamper(
        db_url, "UPDATE audit_log SET at = (SELECT at FROM audit_log WHERE seq = 1) WHERE seq = 3"
    )
    assert await first_problem(db) == (3, "altered")


@pytest.mark.parametrize(
    ("removed", "first_bad"), [("seq = 4", 4), ("seq >= 9", 9)], ids=["inside", "at the end"]
)
async def test_a_removed_entry_is_named(
    db: Database, db_url: str, removed: str, first_bad: int
) -> None:
    await fill(db)
    await tamper(db_url, f"DELETE FROM audit_log WHERE {removed}")
    assert await first_problem(db) == (first_bad, "removed")


async def renumber(conn: AsyncConnection, seqs: Iterable[int], *, by: int) -> None:
    """Move the entries ``seqs`` by ``by``, one by one in the order given (seq is unique)."""
    for seq in seqs:
        await conn.execute(
            text("UPDATE audit_log SET seq = :new WHERE seq = :old"), {"new": seq + by, "old": seq}
        )


async def test_a_removed_and_renumbered_entry_is_named(db: Database, db_url: str) -> None:
    await fill(db)
    async with raw(db_url) as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
        await renumber(conn, range(5, 11), by=-1)
    assert await first_problem(db) == (4, "removed")


async def test_an_inserted_entry_is_named(db: Database, db_url: str) -> None:
    await fill(db)
    async with raw(db_url) as conn:
        await renumber(conn, range(10, 5, -1), by=1)  # make room at 6
        prev = (await conn.execute(text("SELECT hash FROM audit_log WHERE seq = 5"))).scalar()
        await conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, object_ref, prev_hash, hash) "
                "SELECT 6, at, actor, 'case.close', 'C-FORGED', :prev, :forged "
                "FROM audit_log WHERE seq = 5"
            ),
            {"prev": prev, "forged": "f" * 64},
        )
    assert await first_problem(db) == (6, "inserted")


async def test_an_entry_forged_on_the_end_is_named(db: Database, db_url: str) -> None:
    await fill(db, 3)
    async with raw(db_url) as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, object_ref, prev_hash, hash) "
                "SELECT 4, at, actor, 'case.close', 'C-FORGED', hash, :forged "
                "FROM audit_log WHERE seq = 3"
            ),
            {"forged": "e" * 64},
        )
    assert await first_problem(db) == (4, "inserted")


async def test_fifty_concurrent_appends_keep_the_chain_whole(db: Database) -> None:
    await asyncio.gather(
        *(db.audit.append(f"telegram:{n}", "appeal.sign", f"A-{n:06d}") for n in range(50))
    )
    verdict = await db.audit.verify()
    assert verdict.ok and verdict.entries == 50
    entries = await db.audit.entries(limit=100)
    assert sorted(e.object_ref or "" for e in entries) == [f"A-{n:06d}" for n in range(50)]


async def test_concurrent_case_work_keeps_the_chain_whole(db: Database) -> None:
    refs = [f"C-{n:06d}" for n in range(20)]
    await asyncio.gather(
        *(
            db.cases.create(r, None, "days", "advisory_only", "matrix", "t", None, None)
            for r in refs
        )
    )
    await asyncio.gather(*(db.cases.acknowledge(r, ALICE) for r in refs))
    verdict = await db.audit.verify()
    assert verdict.ok and verdict.entries == 40


async def test_verifying_while_others_append_sees_no_tampering(db: Database) -> None:
    await fill(db, 5)

    async def appends() -> None:
        for n in range(30):
            await db.audit.append(ALICE, "case.note", f"C-{n:06d}")

    async def verifications() -> list[bool]:
        return [(await db.audit.verify()).ok for _ in range(15)]

    _, verdicts = await asyncio.gather(appends(), verifications())
    assert all(verdicts)

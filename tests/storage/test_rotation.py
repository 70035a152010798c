"""Master key files and rotation: interrupted, resumed, and read from throughout."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import Database, RotationPending, WrongMasterKey
from storage.admin import rotate_master_key, verify_audit
from storage.crypto import master_key_id
from storage.keys import (
    KeyFileError,
    create_master_key_file,
    key_file_loader,
    read_master_key_file,
    write_master_key_file,
)
from tests.storage.conftest import Clock, raw, scalar, tamper
from tests.storage.test_crypto import tampering_is_detected

ALICE = "matrix:@alice:example.org"


class Crash(Exception):
    pass


# --------------------------------------------------------------- key files


def test_a_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"
    assert create_master_key_file(path)
    content = path.read_bytes()
    assert content.endswith(b"\n") and len(content) == 45
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(read_master_key_file(path)) == 32
    assert not create_master_key_file(path)
    assert path.read_bytes() == content  # never overwritten


def test_bad_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("not base64!\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="base64"):
        read_master_key_file(path)
    path.write_text("c2hvcnQ=\n")
    with pytest.raises(KeyFileError, match="expected 32"):
        read_master_key_file(path)
    assert create_master_key_file(tmp_path / "other.key")
    (tmp_path / "other.key").chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_master_key_file(tmp_path / "other.key")


def test_the_key_loader_reads_the_key_file_and_its_siblings(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old, new = os.urandom(32), os.urandom(32)
    loader = key_file_loader(path)
    assert loader() == []
    write_master_key_file(path, old)
    write_master_key_file(tmp_path / "master.key.new", new)
    assert loader() == [old, new]


# ---------------------------------------------------------------- rotation


async def fill(db: Database, count: int) -> list[str]:
    refs = [f"C-{n:06d}" for n in range(count)]
    for ref in refs:
        await db.cases.create(ref, None, "days", "advisory_only", "matrix", f"text {ref}", "x", "y")
        await db.cases.add_note(ref, ALICE, f"note {ref}")
    return refs


async def read_all(db: Database, refs: list[str]) -> None:
    for ref in refs:
        assert (await db.cases.get(ref)).what == f"text {ref}"
        assert (await db.cases.history(ref))[-1].text == f"note {ref}"


async def master_ids(url: str) -> dict[str, int]:
    async with raw(url) as conn:
        rows = await conn.execute(
            text("SELECT master_key_id, count(*) FROM data_keys GROUP BY master_key_id")
        )
        return {row[0]: row[1] for row in rows}


async def test_rotation_interrupted_then_resumed_keeps_every_record_readable(
    db: Database, db_url: str, master_key: bytes, clock: Clock
) -> None:
    old, new = master_key, os.urandom(32)
    refs = await fill(db, 12)  # 12 case keys + the index key

    def crash_after_first_batch(done: int) -> None:
        raise Crash(done)

    with pytest.raises(Crash):
        await rotate_master_key(db_url, old, new, batch_size=5, on_batch=crash_after_first_batch)
    assert await master_ids(db_url) == {master_key_id(new): 5, master_key_id(old): 8}

    # A process that holds both keys (the CLI keeps both files) reads everything.
    both = await Database.open(db_url, old, clock.now, extra_keys=[new])
    try:
        await read_all(both, refs)
    finally:
        await both.close()

    report = await rotate_master_key(db_url, old, new, batch_size=5)
    assert (report.rewrapped, report.batches) == (8, 2)
    assert await master_ids(db_url) == {master_key_id(new): 13}

    rotated = await Database.open(db_url, new, clock.now)
    try:
        await read_all(rotated, refs)
        assert (await rotated.audit.verify()).ok
    finally:
        await rotated.close()
    with pytest.raises(WrongMasterKey):
        await Database.open(db_url, old, clock.now)
    assert (await rotate_master_key(db_url, old, new)).rewrapped == 0  # nothing left


async def test_a_running_bot_keeps_reading_and_writing_during_rotation(
    db_url: str, master_key: bytes, clock: Clock, tmp_path: Path
) -> None:
    old, new = master_key, os.urandom(32)
    key_file = tmp_path / "master.key"
    write_master_key_file(key_file, old)
    bot = await Database.open(db_url, old, clock.now, key_loader=key_file_loader(key_file))
    try:
        refs = await fill(bot, 6)
        # A second bot process with a cold cache, started before the rotation.
        cold = await Database.open(db_url, old, clock.now, key_loader=key_file_loader(key_file))
        # The CLI: new key to <key_file>.new, rotate, crash part-way.
        write_master_key_file(tmp_path / "master.key.new", new)

        def crash(done: int) -> None:
            raise Crash(done)

        with pytest.raises(Crash):
            await rotate_master_key(db_url, old, new, batch_size=3, on_batch=crash)
        await read_all(bot, refs)
        await read_all(cold, refs)  # meets keys wrapped by the new key: loads key.new
        # New records are wrapped under the new (primary) key.
        await bot.cases.create("C-DURING", None, "days", "advisory_only", "matrix", "t", "x", "y")
        async with raw(db_url) as conn:
            wrapped_by = (
                await conn.execute(
                    text(
                        "SELECT master_key_id FROM data_keys WHERE id = "
                        "(SELECT data_key_id FROM cases WHERE ref = 'C-DURING')"
                    )
                )
            ).scalar_one()
        assert wrapped_by == master_key_id(new)
        await rotate_master_key(db_url, old, new, batch_size=3)
        (tmp_path / "master.key").rename(tmp_path / "master.key.old")
        (tmp_path / "master.key.new").rename(tmp_path / "master.key")
        await read_all(cold, refs)
        await cold.close()
        restarted = await Database.open(db_url, read_master_key_file(key_file), clock.now)
        await read_all(restarted, refs)
        await restarted.close()
    finally:
        await bot.close()


async def test_a_process_without_the_new_key_refuses_to_write_and_cannot_read_new_keys(
    db_url: str, master_key: bytes, clock: Clock
) -> None:
    old, new = master_key, os.urandom(32)
    stale = await Database.open(db_url, old, clock.now)
    try:
        refs = await fill(stale, 3)
        fresh_refs = refs[:1]
        await rotate_master_key(db_url, old, new)
        await read_all(stale, fresh_refs)  # keys it already unwrapped stay readable
        with pytest.raises(RotationPending, match="restart it with the new key"):
            await stale.cases.create(
                "C-STALE1", None, "days", "advisory_only", "matrix", "t", None, None
            )
        cold = await Database.open(db_url, new, clock.now, extra_keys=[old])
        await cold.close()
    finally:
        await stale.close()
    lacking = await Database.open(db_url, new, clock.now)
    try:
        await read_all(lacking, refs)
    finally:
        await lacking.close()


async def test_rotation_refuses_keys_that_do_not_open_the_database(
    db: Database, db_url: str, master_key: bytes
) -> None:
    await fill(db, 1)
    stranger, new = os.urandom(32), os.urandom(32)
    with pytest.raises(WrongMasterKey, match="nothing was changed"):
        await rotate_master_key(db_url, stranger, new)
    assert set(await master_ids(db_url)) == {master_key_id(master_key)}
    with pytest.raises(ValueError):
        await rotate_master_key(db_url, master_key, master_key)


async def test_verify_audit_from_the_command_line(
    db: Database, db_url: str, master_key: bytes
) -> None:
    await fill(db, 2)
    verdict = await verify_audit(db_url, master_key)
    assert verdict.ok and verdict.entries == 4
    with pytest.raises(WrongMasterKey):
        await verify_audit(db_url, os.urandom(32))
    await tamper(db_url, "UPDATE audit_log SET object_ref = 'C-XXXXXX' WHERE seq = 2")
    assert (await verify_audit(db_url, master_key)).first_bad_seq == 2


async def test_a_destroyed_data_key_is_reported_not_crashed(db: Database, db_url: str) -> None:
    await fill(db, 1)
    await tampering_is_detected(
        db_url, "UPDATE cases SET data_key_id = NULL", lambda: db.cases.history("C-000000")
    )


async def test_two_processes_opening_a_fresh_database_agree_on_its_keys(
    db_url: str, master_key: bytes, clock: Clock
) -> None:
    first, second = await asyncio.gather(
        Database.open(db_url, master_key, clock.now), Database.open(db_url, master_key, clock.now)
    )
    try:
        account = await first.accounts.get_or_create("telegram:1", None)
        assert (await second.accounts.get_or_create("telegram:1", None)).id == account.id
        assert await scalar(db_url, "SELECT count(*) FROM data_keys WHERE name = 'index'") == 1
    finally:
        await first.close()
        await second.close()

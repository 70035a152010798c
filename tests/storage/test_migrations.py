"""Migrations build exactly the models' schema, and the schema version is enforced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import Database, SchemaNotCurrent, SchemaTooNew
from storage.engine import make_engine
from storage.migrate import alembic_config, current_revision, head_revision, main, upgrade_to_head
from storage.models import metadata
from tests.storage.conftest import Clock, tamper


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_upgrade_reports_revisions_and_is_idempotent(empty_url: str) -> None:
    assert await current_revision(empty_url) is None
    assert await upgrade_to_head(empty_url) == head_revision()
    assert await upgrade_to_head(empty_url) == head_revision()
    assert await current_revision(empty_url) == head_revision()


async def test_open_refuses_a_database_without_schema(empty_url: str, clock: Clock) -> None:
    with pytest.raises(SchemaNotCurrent, match="sosbot init"):
        await Database.open(empty_url, os.urandom(32), clock.now)


async def test_open_refuses_a_database_behind_the_code(empty_url: str, clock: Clock) -> None:
    engine = make_engine(empty_url)
    try:
        async with engine.connect() as conn:

            def upgrade_to_first(sync: Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = sync
                command.upgrade(config, "0001")
                sync.commit()

            await conn.run_sync(upgrade_to_first)
    finally:
        await engine.dispose()
    assert await current_revision(empty_url) == "0001"
    with pytest.raises(SchemaNotCurrent, match="at revision '0001'"):
        await Database.open(empty_url, os.urandom(32), clock.now)
    await upgrade_to_head(empty_url)
    db = await Database.open(empty_url, os.urandom(32), clock.now)
    await db.close()


async def test_a_database_from_a_newer_sosbot_is_refused(db_url: str, clock: Clock) -> None:
    await tamper(db_url, "UPDATE alembic_version SET version_num = '0099_future'")
    with pytest.raises(SchemaTooNew, match="newer sosbot") as caught:
        await Database.open(db_url, os.urandom(32), clock.now)
    assert "0099_future" in str(caught.value)
    with pytest.raises(SchemaTooNew):
        await upgrade_to_head(db_url)
    assert await current_revision(db_url) == "0099_future"  # untouched


async def test_open_can_migrate_an_in_memory_database(clock: Clock) -> None:
    db = await Database.open("sqlite+aiosqlite://", os.urandom(32), clock.now, migrate=True)
    try:
        account = await db.accounts.get_or_create("telegram:1", None)
        await db.conversations.save(account.id, "start", {})
        assert (await db.audit.verify()).ok
    finally:
        await db.close()


def test_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'down.db'}"
    asyncio.run(upgrade_to_head(url))
    engine = make_engine(url)

    async def run(revision: str) -> None:
        async with engine.connect() as conn:

            def downgrade(sync: Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = sync
                command.downgrade(config, revision)
                sync.commit()

            await conn.run_sync(downgrade)
        await engine.dispose()

    asyncio.run(run("base"))
    assert asyncio.run(current_revision(url)) is None
    asyncio.run(upgrade_to_head(url))
    assert asyncio.run(current_revision(url)) == head_revision()


def test_the_command_line_upgrades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert main([url]) == 0
    assert main(["--current", url]) == 0
    assert capsys.readouterr().out.split() == [head_revision(), head_revision()]
    assert main([]) == 2

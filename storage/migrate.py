"""Schema migrations (Alembic), usable from code and from the command line.

``await upgrade_to_head(url)`` brings a database to the current schema;
``await current_revision(url)`` says where it is. A database whose revision
this code does not know was migrated by a newer sosbot: it is refused with
``SchemaTooNew`` rather than touched.

Command line: ``python -m storage.migrate URL`` (upgrade) or
``python -m storage.migrate --current URL``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import make_engine
from storage.errors import SchemaNotCurrent, SchemaTooNew

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Alembic configured in code: no ini file, no logging set-up."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "storage/migrations has no revisions"
    return head


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _current(connection: Connection) -> str | None:
    revision = MigrationContext.configure(connection).get_current_revision()
    connection.commit()
    return revision


def _refuse_unknown(revision: str | None) -> None:
    if revision is not None and revision not in _known_revisions():
        raise SchemaTooNew(
            f"The database schema is at revision {revision!r}, which this version of sosbot "
            f"does not know (newest known: {head_revision()!r}); it was migrated by a newer "
            "sosbot. Run that version, or restore a backup made before the upgrade."
        )


def _upgrade(connection: Connection) -> str:
    _refuse_unknown(_current(connection))
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    connection.commit()
    return head_revision()


def _require_head(connection: Connection) -> str:
    revision = _current(connection)
    _refuse_unknown(revision)
    head = head_revision()
    if revision is None:
        raise SchemaNotCurrent(
            "The database has no sosbot schema yet; run 'sosbot init' to create it."
        )
    if revision != head:
        raise SchemaNotCurrent(
            f"The database schema is at revision {revision!r}, but this version of sosbot "
            f"needs {head!r}. Back up the database, then run 'sosbot init' to upgrade it."
        )
    return revision


async def upgrade_engine(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return await connection.run_sync(_upgrade)


async def require_head(engine: AsyncEngine) -> str:
    """Raise ``SchemaTooNew`` or ``SchemaNotCurrent`` unless the database is at head."""
    async with engine.connect() as connection:
        return await connection.run_sync(_require_head)


async def upgrade_to_head(url: str) -> str:
    """Migrate the database at ``url`` to the newest schema; return the revision."""
    engine = make_engine(url)
    try:
        return await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None: no schema yet)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--current":
        print(asyncio.run(current_revision(args[1])) or "(empty)")
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m storage.migrate [--current] DATABASE_URL", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(upgrade_to_head(args[0])))
    except SchemaTooNew as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

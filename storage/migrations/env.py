"""Alembic environment, async.

Called two ways:
- from ``storage.migrate`` (the normal path): a synchronous connection
  arrives in ``config.attributes["connection"]``;
- from the ``alembic`` command (developers writing a migration):
  ``alembic -c storage/alembic.ini -x url=sqlite+aiosqlite:///dev.db upgrade head``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from storage.engine import make_engine
from storage.models import metadata
from storage.types import UTCDateTime

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "SOSBOT_DATABASE_URL"
    )
    if not url:
        url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database URL: alembic -x url=... or $SOSBOT_DATABASE_URL")
    return url


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Autogenerate plain SQLAlchemy types: a migration must not import storage code."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        transaction_per_migration=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    _configure(connection)
else:
    asyncio.run(_run_async())

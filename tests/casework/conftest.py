"""Casework tests run the whole bot (router, storage, scheduler) on SQLite and PostgreSQL.

The databases come from the storage suite's fixtures: a copy of a schema
migrated once per session, on a temporary SQLite file or the session's
real PostgreSQL server (missing: a skip locally, a failure with CI=true).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.vocab import Casework
from tests.harness.bot import Harness, default_settings, make_harness
from tests.storage.conftest import (  # noqa: F401  (fixtures, used by name)
    backend,
    db_url,
    pg_template,
    sqlite_path,
    sqlite_template,
)

CASEWORK = Casework(
    working_groups=("land", "gender"),
    regions={"CO": "americas", "MX": "americas", "GT": "americas", "KE": "africa", "PH": "asia"},
)


@pytest.fixture
async def bot(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:  # noqa: F811
    harness = await make_harness(tmp_path, default_settings(casework=CASEWORK), url=db_url)
    yield harness
    await harness.close()

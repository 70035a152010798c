"""Session-scoped fixtures for real PostgreSQL and Synapse servers.

Register with ``pytest_plugins = ["tests.servers.fixtures"]`` in tests/conftest.py.

Fixtures
--------
``postgres_server`` (session)
    A started :class:`tests.servers.postgres.PostgresServer`.  Use
    ``postgres_server.create_database(name=None) -> url`` for an isolated database
    and ``postgres_server.dump(dbname) -> bytes`` to scan a pg_dump.
``postgres_url`` (function)
    ``postgres_server.create_database()`` with a unique name: an empty database per test.
``synapse_server`` (session)
    A started :class:`tests.servers.synapse.SynapseServer` with all rate limits raised.
``synapse_server_rate_limited`` (session, started only when requested)
    Same, but ``rc_message`` is 0.2/s with burst 2, for ``M_LIMIT_EXCEEDED`` tests.
``synapse_server_own`` (function)
    A Synapse of the test's own, which it may stop (``halt``/``resume``): an outage
    that other tests do not share.

Tests that use these fixtures get the ``postgres`` / ``synapse`` markers
automatically, so ``pytest -m "not synapse"`` deselects them.

Missing components: when the binaries (PostgreSQL) or the package (Synapse)
are not installed, the fixture skips the test with the reason -- except when
the environment variable ``CI`` is ``true``, where it fails instead, so CI can
never go green by skipping.  A component that is installed but does not start
is always an error.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn, TypeVar

import pytest

from tests.servers.local import LocalServer
from tests.servers.postgres import PostgresServer, PostgresUnavailable, find_pg_bindir
from tests.servers.synapse import SynapseServer

_FIXTURE_MARKERS = {
    "postgres_server": "postgres",
    "postgres_url": "postgres",
    "synapse_server": "synapse",
    "synapse_server_rate_limited": "synapse",
    "synapse_server_own": "synapse",
}

ServerT = TypeVar("ServerT", bound=LocalServer)

_SYNAPSE_FIXTURES = {name for name, marker in _FIXTURE_MARKERS.items() if marker == "synapse"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def component_missing(reason: str) -> NoReturn:
    """Skip the test -- or, with CI=true, fail it: CI must not pass by skipping."""
    if in_ci():
        pytest.fail(
            f"{reason} [CI=true: a missing component is a failure, not a skip]", pytrace=False
        )
    pytest.skip(reason)


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each test is collected: before any pytest_collection_modifyitems,
    # pytest-xdist's among them, which reads the xdist_group marks.
    names = set(getattr(item, "fixturenames", ()))
    for fixture, marker in _FIXTURE_MARKERS.items():
        if fixture in names:
            item.add_marker(getattr(pytest.mark, marker))
    # With pytest-xdist's --dist loadgroup, every Synapse test runs in one worker
    # (one set of homeservers a run, not one per worker). pytest-xdist 3.8 under
    # pytest 9.2 ignores these marks (pytest-xdist issue #1386): until its fix,
    # each worker starts the Synapse its tests need.
    if names & _SYNAPSE_FIXTURES:
        item.add_marker(pytest.mark.xdist_group("synapse"))


def _require_synapse() -> None:
    if importlib.util.find_spec("synapse") is None:
        component_missing(
            f"matrix-synapse is not installed in {sys.executable} "
            "(pip install -e '.[dev]' or pip install matrix-synapse)"
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if find_pg_bindir() is None:
        component_missing(
            "PostgreSQL binaries (initdb/pg_ctl/pg_dump) not found via $PG_BINDIR, "
            "`pg_config --bindir` or /usr/lib/postgresql/*/bin"
        )
    yield from _running(PostgresServer, "PostgreSQL", PostgresUnavailable)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy (asyncpg) URL of a fresh, empty database, dropped afterwards."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


def _running(
    make: Callable[[], ServerT], name: str, unavailable: type[Exception] = Exception
) -> Iterator[ServerT]:
    """The body of a server fixture: the server ``make`` builds, started for as long
    as the fixture lasts, then stopped. Installed but failing to start is an error,
    never a skip."""
    try:
        server = make().start()
    except unavailable as exc:
        pytest.fail(f"{name} is installed but did not start:\n{exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _synapse(*, rate_limited: bool) -> Iterator[SynapseServer]:
    _require_synapse()
    yield from _running(lambda: SynapseServer(rate_limited=rate_limited), "Synapse")


@pytest.fixture(scope="session")
def synapse_server() -> Iterator[SynapseServer]:
    yield from _synapse(rate_limited=False)


@pytest.fixture(scope="session")
def synapse_server_rate_limited() -> Iterator[SynapseServer]:
    yield from _synapse(rate_limited=True)


@pytest.fixture
def synapse_server_own() -> Iterator[SynapseServer]:
    yield from _synapse(rate_limited=False)

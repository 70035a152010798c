"""Fixtures of the ``sosbot`` command's tests (also imported by tests/casework)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.test_cli import sosbot


@pytest.fixture(scope="session")
def initialised_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder after a real ``sosbot init``: config, master key, migrated database."""
    folder = tmp_path_factory.mktemp("initialised")
    result = sosbot(folder, "init")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def initialised(initialised_once: Path, tmp_path: Path) -> Path:
    """A copy of that folder, modes kept, for one test to change: ``sosbot init`` runs
    once a session instead of once a test (each run is a Python start-up and a
    migration). test_init_creates_everything_and_is_idempotent runs it itself."""
    shutil.copytree(initialised_once, tmp_path, dirs_exist_ok=True)
    return tmp_path

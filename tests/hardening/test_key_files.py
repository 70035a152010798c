"""Key files: no old key left after a rotation; the folder is fsynced after
every creation and rename, so a power cut cannot lose the new name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.admin import rotate_key
from bot.config import load_config
from storage.keys import create_master_key_file
from tests.unit.test_cli import sosbot


def spy_directory_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_creating_a_key_file_syncs_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = spy_directory_fsyncs(monkeypatch)
    assert create_master_key_file(tmp_path / "keys" / "master.key")
    assert str(tmp_path / "keys") in synced


async def test_rotation_deletes_the_old_key_and_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sosbot(tmp_path, "init").returncode == 0
    config = load_config(tmp_path / "config.toml")
    synced = spy_directory_fsyncs(monkeypatch)
    assert await rotate_key(config, {}) == 0
    data = tmp_path / "data"
    assert sorted(p.name for p in data.glob("master.key*")) == ["master.key"]
    assert synced.count(str(data)) >= 2  # the new key written, then the renames

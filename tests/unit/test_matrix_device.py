"""Which store folder may run the bot's Matrix device (issue 18, item 7): the
database records the device; a folder holding another one is refused, and a
standby's folder must hold exactly that one (shared storage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.transports.matrix_state import (
    DEVICE_SECRET,
    Credentials,
    MatrixStartError,
    check_device,
    crypto_store_path,
    save_credentials,
    standby_store_problem,
)
from tests.matrix.peers import MemorySecrets

BOT = "@sosbot:example.net"


def folder_with(tmp_path: Path, device: str, *, store: bool = True) -> tuple[Path, Credentials]:
    folder = tmp_path / device
    folder.mkdir()
    credentials = Credentials("https://matrix.example.net", BOT, device, "token")
    save_credentials(folder, credentials)
    if store:
        crypto_store_path(folder, BOT, device).write_bytes(b"sqlcipher pages")
    return folder, credentials


async def test_the_first_folder_is_adopted_and_another_device_is_refused(tmp_path: Path) -> None:
    secrets = MemorySecrets()
    folder, credentials = folder_with(tmp_path, "DEVICEONE")
    await check_device(secrets, folder, credentials)  # a deployment from before the record
    assert await secrets.get(DEVICE_SECRET) == b"DEVICEONE"
    await check_device(secrets, folder, credentials)  # the same folder again: fine

    other, other_credentials = folder_with(tmp_path, "DEVICETWO")
    with pytest.raises(MatrixStartError) as refused:
        await check_device(secrets, other, other_credentials)
    assert str(refused.value) == (
        f"{other} holds Matrix device DEVICETWO, but this database's bot uses device "
        "DEVICEONE: point matrix.store_dir at that device's folder, or restore the store "
        "and the database from the same backup"
    )
    assert await secrets.get(DEVICE_SECRET) == b"DEVICEONE", "the record is unchanged"


async def test_a_standby_needs_the_folder_of_the_recorded_device(tmp_path: Path) -> None:
    secrets = MemorySecrets()
    empty = tmp_path / "own"
    assert await standby_store_problem(secrets, empty) is None, "no device yet: checked later"

    await secrets.put(DEVICE_SECRET, b"DEVICEONE")
    shared, _ = folder_with(tmp_path, "DEVICEONE")
    assert await standby_store_problem(secrets, shared) is None

    problem = await standby_store_problem(secrets, empty)
    assert problem == (
        f"matrix.store_dir ({empty}) does not hold the bot's Matrix device DEVICEONE, which "
        "the active process runs: a standby must use the active process's store folder, on "
        "storage both machines mount (docs/deployment.md, section 9)"
    )
    stale, _ = folder_with(tmp_path, "DEVICETWO")
    assert await standby_store_problem(secrets, stale) is not None
    (tmp_path / "keyless").mkdir()
    keyless, _ = folder_with(tmp_path / "keyless", "DEVICEONE", store=False)
    assert await standby_store_problem(secrets, keyless) is not None, "no E2EE store in it"

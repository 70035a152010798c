"""`sosbot backup` while the bot runs, `sosbot restore` on another machine:
the conversation, the cases and the outbox go on (issue 18, item 4).

The commands are the ones docs/deployment.md gives. The first machine is
frozen (SIGSTOP) after the snapshot and then lost (SIGKILL), so nothing
happens after the snapshot that the restored copy could not know about.
"""

from __future__ import annotations

import base64
import re
import signal
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.clock import SystemClock
from storage import Database
from storage.repos.outbox import Delivery
from tests.fakes.telegram.server import FakeTelegramServer, FakeUser
from tests.ops.deployment import MASTER_KEY, TOKEN, Deployment, initialised, report
from tests.servers.postgres import PostgresServer

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
SQLITE = "sqlite+aiosqlite:///data/sosbot.db"


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with initialised(tmp_path, SQLITE) as dep:
        yield dep


async def case_report(dep: Deployment, defender: FakeUser, *, first_half: bool) -> str | None:
    """The first half of a report (None), or the second half (the case reference)."""
    receipt = await report(dep.server, defender, first_half=first_half)
    if first_half:
        return None
    match = REF.search(receipt)
    assert match, receipt
    return match.group(0)


async def test_backup_mid_conversation_restored_on_another_machine(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    first = await dep.run("a")
    await first.wait_for_line("telegram transport started", 60)
    defender = dep.server.new_user("Defender", language_code="en")
    await case_report(dep, defender, first_half=True)
    earlier = await case_report(dep, defender, first_half=False)  # a case before the backup
    assert earlier is not None
    await case_report(dep, defender, first_half=True)  # and a report half-way

    # Frozen, so that nothing happens after the snapshot; the outbox has work.
    first.process.send_signal(signal.SIGSTOP)
    chats = [dep.server.add_chat(dep.server.new_user(f"Member {n}")) for n in range(12)]
    db = await Database.open(
        f"sqlite+aiosqlite:///{dep.folder('a')}/data/sosbot.db",
        base64.b64decode(MASTER_KEY),
        SystemClock().now,
    )
    try:
        deliveries = [Delivery(f"telegram:{c.id}", "en", "Urgent action ✊") for c in chats]
        await db.outbox.enqueue_broadcast(
            "appeal", "A-9TXW3B", deliveries, [f"telegram:{dep.triage.id}"]
        )
    finally:
        await db.close()

    backup = tmp_path / "backups" / "sosbot-backup.tar"
    code, out, err = await dep.command("a", "backup", str(backup))
    assert code == 0, out + err
    assert out.startswith(f"backup: wrote {backup} (sqlite")
    assert backup.stat().st_mode & 0o077 == 0
    with tarfile.open(backup) as tar:
        assert sorted(tar.getnames()) == ["database.sqlite", "manifest.json"]
    raw = backup.read_bytes()
    assert MASTER_KEY.encode() not in raw and base64.b64decode(MASTER_KEY) not in raw
    assert b"Armed men" not in raw and b"Cauca" not in raw  # contents stay encrypted

    await first.kill()  # the first machine is lost

    code, out, err = await dep.command("b", "restore", str(backup))
    assert code == 0, out + err
    # A second restore would overwrite a deployment: refused in one line.
    code, out, err = await dep.command("b", "restore", str(backup))
    assert code == 1 and err.strip().splitlines()[-1].startswith("restore: ") and "exists" in err

    second = await dep.run("b")
    await second.wait_for_line("telegram transport started", 60)
    # The outbox goes on: everyone gets the appeal once, and the report comes.
    await dep.server.wait_for_message(
        dep.triage.id, lambda m: "sending finished" in (m.text or ""), 60
    )
    for chat in chats:
        assert [m.text for m in dep.server.messages_to(chat.id)] == ["Urgent action ✊"]
    # The conversation goes on where the backup left it.
    ref = await case_report(dep, defender, first_half=False)
    assert ref is not None and ref != earlier
    await dep.server.wait_for_message(dep.triage.id, lambda m: ref in (m.text or ""))
    # The case from before the backup is there.
    db = await Database.open(
        f"sqlite+aiosqlite:///{dep.folder('b')}/data/sosbot.db",
        base64.b64decode(MASTER_KEY),
        SystemClock().now,
    )
    try:
        assert (await db.cases.get(earlier)).where == "Cauca"
    finally:
        await db.close()
    assert await second.terminate() == 0


async def test_postgresql_backup_and_restore_into_an_empty_database(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        triage = server.new_group("Advisory group")
        source = Deployment(server, tmp_path, postgres_server.create_database(), triage)
        target = Deployment(server, tmp_path, postgres_server.create_database(), triage)
        assert (await source.command("a", "init"))[0] == 0
        members = tmp_path / "members.csv"
        members.write_text(
            "name,country,region,languages,working_groups,contacts,groups\n"
            "Colectivo Tierra,Colombia,Americas,es,land,telegram:123456,telegram:-1001234567890\n"
        )
        assert (await source.command("a", "members", "import", str(members)))[0] == 0
        backup = tmp_path / "pg-backup.tar"
        code, out, err = await source.command("a", "backup", str(backup))
        assert code == 0, out + err
        assert out.startswith(f"backup: wrote {backup} (postgresql")
        with tarfile.open(backup) as tar:
            dump = tar.extractfile("database.sql")
            assert dump is not None and b"Colectivo Tierra" not in dump.read()

        code, out, err = await target.command("b", "restore", str(backup))
        assert code == 0, out + err
        code, out, err = await target.command("b", "members", "export")
        assert code == 0, err
        assert "Colectivo Tierra,Colombia" in out
        # Into a database that is not empty: refused, nothing changed.
        code, out, err = await target.command("b", "restore", str(backup))
        assert code == 1
        assert err.strip().splitlines()[-1] == (
            "restore: the database is not empty; restore goes into an empty one"
        )

"""`sosbot discover` answers /id with the ids the config needs, prints them,
and stores nothing (issue 18, item 2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fakes.telegram.server import FakeTelegramServer
from tests.ops.deployment import TOKEN, Deployment

SQLITE = "sqlite+aiosqlite:///data/sosbot.db"


def database_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((folder / "data").glob("sosbot.db*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


async def test_discover_answers_id_in_a_group_and_in_private(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        group = server.new_group("Advisory group")
        dep = Deployment(server, tmp_path, SQLITE, group)
        code, out, err = await dep.command("a", "init")
        assert code == 0, out + err
        before = database_digest(dep.folder("a"))
        try:
            discover = await dep.start("a", "discover")
            await discover.wait_for_line("discover: write /id", 60)
            advisor = server.new_user("Advisor")
            server.add_chat(advisor)
            server.user_sends(advisor, group, "/id")
            answer = await server.wait_for_message(
                group.id, lambda m: "This chat" in (m.text or "")
            )
            assert answer.text == (
                f"This chat: telegram:{group.id} (group)\nYou: telegram:{advisor.id}"
            )
            server.user_sends(advisor, advisor, "/id")
            private = await server.wait_for_message(advisor.id)
            assert f"This chat: telegram:{advisor.id} (private)" in (private.text or "")
            line = await discover.wait_for_line(f"This chat: telegram:{group.id}", 30)
            assert line == f"This chat: telegram:{group.id} (group); You: telegram:{advisor.id}"

            # A `run` beside it would lose updates to it: refused in one line.
            code, out, err = await dep.command("a", "run")
            assert code == 1 and "another sosbot process runs on" in err
            assert await discover.terminate() == 0
        finally:
            await dep.stop_all()
        assert database_digest(dep.folder("a")) == before  # nothing stored
        assert server.internal_errors == []


async def test_a_refused_token_is_one_line_naming_the_host(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        dep = Deployment(server, tmp_path, SQLITE, server.new_group("Advisory group"))
        assert (await dep.command("a", "init"))[0] == 0
        dep.token = "999:another-token-the-server-does-not-know"
        for command in ("run", "discover"):
            code, out, err = await dep.command("a", command)
            assert code == 1
            assert "Traceback" not in err and "another-token" not in out + err
            assert err.strip().splitlines()[-1] == (
                f"{command}: Telegram at 127.0.0.1 refused the bot token "
                "(check telegram.token_env/token_file)"
            )

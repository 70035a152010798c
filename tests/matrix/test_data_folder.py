"""No defender identifier in clear on disk (issue 20, item 2).

The whole bot runs on a real Synapse and the fake Telegram Bot API: a
defender on Matrix and one on Telegram each raise an alert that reaches the
encrypted triage room. Then every file under the data folder (the SQLite
database with its journal, the Matrix store, its state and credentials) is
read raw and searched for their ids, in UTF-8 and in UTF-16 (both byte
orders). Both defenders then use /forget; the bot leaves the Matrix direct
room, and the scan is repeated.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from bot.app import App
from handlers.clock import FakeClock
from tests.fakes.telegram.server import FakeTelegramServer
from tests.fakes.telegram.state import FakeUser
from tests.matrix.apps import answer, matrix_bot, matrix_config, start_app
from tests.matrix.peers import BotKit, Peer
from tests.telegram.conftest import TOKEN

pytestmark = pytest.mark.synapse

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
KEY = base64.b64encode(b"d" * 32).decode()


def encodings(needle: str) -> list[bytes]:
    return [needle.encode(c) for c in ("utf-8", "utf-16-le", "utf-16-be")]


def scan(folder: Path, needles: list[str]) -> list[str]:
    """Every (file, needle) where the needle lies in the file's bytes."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, f"nothing under {folder}"
    found = []
    for path in files:
        raw = path.read_bytes()
        for needle in needles:
            if any(form in raw for form in encodings(needle)):
                found.append(f"{path.relative_to(folder)}: {needle}")
    return found


async def build_app(
    kit: BotKit, tmp_path: Path, server: FakeTelegramServer, triage: str, advisor: Peer
) -> App:
    advisory = f'rooms = ["matrix:{triage}"]\nadvisors = ["matrix:{advisor.user_id}"]'
    config = matrix_config(
        kit, tmp_path, advisory, telegram_url=server.base_url, own_store_dir=False
    )
    assert config.matrix.store_dir.is_relative_to(config.bot.data_dir)
    config.bot.data_dir.mkdir(exist_ok=True)
    return await start_app(kit, config, FakeClock(), key=KEY, telegram_url=server.base_url)


async def telegram(server: FakeTelegramServer, user: FakeUser, text: str, expect: str) -> str:
    after = max((m.message_id for m in server.history(user.id)), default=0)
    server.user_sends(user, user, text)
    found = await server.wait_for_message(
        user.id, lambda m: expect in (m.text or ""), after=after, timeout=30
    )
    return found.text or ""


async def telegram_press(
    server: FakeTelegramServer, user: FakeUser, label: str, expect: str
) -> str:
    question = await server.wait_for_message(user.id, lambda m: label in m.button_texts, timeout=30)
    after = max(m.message_id for m in server.history(user.id))
    server.press_button(user, user, question.message_id, text=label)
    found = await server.wait_for_message(
        user.id, lambda m: expect in (m.text or ""), after=after, timeout=30
    )
    return found.text or ""


async def test_no_defender_identifier_under_the_data_folder(kit: BotKit, tmp_path: Path) -> None:
    advisor = await kit.person("advisor", tmp_path)
    triage = await advisor.new_room("Triage", [kit.user_id])
    data = tmp_path / "data"
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        on_telegram = server.new_user("Defender", username="defender_tg", language_code="en")
        app = await build_app(kit, tmp_path, server, triage, advisor)
        try:
            bot = matrix_bot(app)
            await advisor.wait_for_member(triage, bot)
            on_matrix = await kit.person("defender", tmp_path)
            dm = await on_matrix.open_dm(bot)
            await answer(
                on_matrix, dm, bot, "!sos men with guns outside", "saved under the reference"
            )
            await telegram(
                server, on_telegram, "/sos they follow me home", "saved under the reference"
            )
            await advisor.until(
                lambda: len([b for b in advisor.bodies(triage, bot.user_id) if REF.search(b)]) >= 2,
                "both cards",
            )
        finally:
            await app.stop()
        needles = [
            on_matrix.user_id,
            on_matrix.user_id.split(":")[0].lstrip("@"),  # the localpart alone
            str(on_telegram.id),
            "defender_tg",
        ]
        names = {p.name for p in data.rglob("*") if p.is_file()}
        assert "sosbot.db" in names and "state.json" in names
        assert any(n.endswith(".db") and n.startswith("@") for n in names), names  # nio's store
        assert scan(data, needles) == []
        control = data / "control.txt"  # the scan finds what it looks for, in UTF-16 too
        control.write_bytes(on_matrix.user_id.encode("utf-16-le"))
        assert scan(data, needles) == [
            f"control.txt: {on_matrix.user_id}",
            "control.txt: " + needles[1],
        ]
        control.unlink()

        app = await build_app(kit, tmp_path, server, triage, advisor)
        try:
            bot = matrix_bot(app)
            await answer(on_matrix, dm, bot, "!forget", "erases")
            await answer(on_matrix, dm, bot, "1", "Your data has been erased.")
            await on_matrix.until(
                lambda: bot.user_id not in on_matrix.client.rooms[dm].users,
                "the bot to leave the direct room",
            )
            assert await bot.messenger.dms.room_of(on_matrix.user_id) is None
            await telegram(server, on_telegram, "/forget", "erases")
            await telegram_press(server, on_telegram, "Yes, erase my data", "erased")
        finally:
            await app.stop()
        assert scan(data, needles) == []
        assert dm not in (data / "matrix" / "state.json").read_text()

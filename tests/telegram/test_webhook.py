"""The optional webhook: Telegram posts updates to us instead of long polling."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from bot.config import parse_config
from bot.transports.telegram import Webhook
from handlers.clock import FakeClock
from tests.fakes.telegram.server import FakeTelegramServer
from tests.servers.net import free_port
from tests.telegram.conftest import TOKEN, build_app


def update(update_id: int, user_id: int, text: str) -> dict[str, object]:
    user = {"id": user_id, "is_bot": False, "first_name": "Defender", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Defender"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def test_webhook_receives_updates_with_the_secret_only(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        person = server.new_user("Defender")
        server.add_chat(person)  # as if they had written before: Telegram lets the bot answer
        hook = Webhook.derive("https://bot.ngo.example", f"127.0.0.1:{free_port()}", TOKEN)
        config = f'[telegram]\nenabled = true\nbase_url = "{server.base_url}"\n'
        app = await build_app(config, tmp_path, server.base_url, FakeClock(), webhook=hook)
        await app.start()
        try:
            [registered] = server.requests_for("setWebhook")
            assert registered.params["url"] == f"https://bot.ngo.example/{hook.path}"
            assert registered.params["secret_token"] == hook.secret
            assert not registered.params.get("drop_pending_updates")
            assert TOKEN not in hook.url and TOKEN not in hook.secret
            local = f"http://127.0.0.1:{hook.port}/{hook.path}"
            async with aiohttp.ClientSession() as http:
                forged = await http.post(local, json=update(1, person.id, "/help"))
                assert forged.status == 403
                good = await http.post(
                    local,
                    json=update(2, person.id, "/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": hook.secret},
                )
                assert good.status == 200
            answer = await server.wait_for_message(person.id)
            assert "/report" in (answer.text or "")
            assert len(server.messages_to(person.id)) == 1, "the forged update was not handled"
        finally:
            await app.stop()


def test_webhook_config_needs_https_and_a_port(tmp_path: Path) -> None:
    import pytest

    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="https://"):
        parse_config('[telegram]\nwebhook_url = "http://bot.ngo.example"\n', tmp_path)
    with pytest.raises(ConfigError) as caught:
        parse_config('[telegram]\nwebhook_listen = "localhost"\n', tmp_path)
    assert caught.value.path == "telegram.webhook_listen"

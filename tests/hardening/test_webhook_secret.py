"""The webhook's secret header is compared in constant time by our own code."""

from __future__ import annotations

import hmac
from pathlib import Path

import aiohttp
import pytest

from bot.transports.telegram import Webhook
from handlers.clock import FakeClock
from tests.fakes.telegram.server import FakeTelegramServer
from tests.servers.net import free_port
from tests.telegram.conftest import TOKEN, build_app
from tests.telegram.test_webhook import update


async def test_a_wrong_secret_header_is_checked_with_compare_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        person = server.new_user("Defender")
        server.add_chat(person)
        hook = Webhook.derive("https://bot.ngo.example", f"127.0.0.1:{free_port()}", TOKEN)
        config = f'[telegram]\nenabled = true\nbase_url = "{server.base_url}"\n'
        app = await build_app(config, tmp_path, server.base_url, FakeClock(), webhook=hook)
        await app.start()
        try:
            local = f"http://127.0.0.1:{hook.port}/{hook.path}"
            wrong = hook.secret[:-1] + ("0" if hook.secret[-1] != "0" else "1")
            async with aiohttp.ClientSession() as http:
                forged = await http.post(
                    local,
                    json=update(1, person.id, "/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": wrong},
                )
                assert forged.status == 403
            assert (wrong.encode(), hook.secret.encode()) in compared or (
                hook.secret.encode(),
                wrong.encode(),
            ) in compared
        finally:
            await app.stop()

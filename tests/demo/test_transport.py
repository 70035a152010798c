"""The web transport without a browser: what the server accepts and refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.demo import ORGANISATIONS, Demo
from handlers.i18n import render
from handlers.messages import Address, Option

Socket = aiohttp.ClientWebSocketResponse


@asynccontextmanager
async def connect(demo: Demo, origin: str | None = None) -> AsyncIterator[Socket]:
    host = f"127.0.0.1:{demo.web.port}"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://{host}/ws", origin=origin or f"http://{host}") as socket,
    ):
        hello = await socket.receive_json(timeout=5)
        assert hello["type"] == "hello"
        yield socket


async def until(socket: Socket, kind: str, **match: Any) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = await socket.receive_json(timeout=5)
        found = event.get("message", event)
        if event["type"] == kind and all(found.get(k) == v for k, v in match.items()):
            return event


async def test_the_page_is_served_with_a_strict_policy(demo: Demo) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/app.js", "/style.css"):
            async with session.get(demo.url.rstrip("/") + path) as response:
                assert response.status == 200
                assert "script-src 'self'" in response.headers["Content-Security-Policy"]
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with session.get(demo.url + "files/nothing") as response:
            assert response.status == 404


async def test_another_host_name_or_origin_is_refused(demo: Demo) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(demo.url, headers={"Host": "evil.example"}) as response:
            assert response.status == 421
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with connect(demo, origin="http://evil.example"):
            pass
    assert refused.value.status == 403


async def test_a_button_token_works_only_in_its_own_chat(demo: Demo) -> None:
    messenger = demo.web.messenger
    await messenger.ask(Address.parse("web:defender-en"), "Pick", [Option("lang:es", "Español")])
    token = next(iter(demo.web.chats.messages.values())).buttons[0]["token"]
    assert token != "lang:es"
    async with connect(demo) as socket:
        # Pressed from someone else's chat: nothing happens.
        forged = {"type": "press", "chat": "web:defender-fr", "sender": "defender-fr"}
        await socket.send_json({**forged, "token": token})
        await socket.send_json(
            {"type": "send", "chat": "web:defender-fr", "sender": "defender-fr", "text": "/status"}
        )
        answer = await until(socket, "message", chat="web:defender-fr", sender=None)
        assert answer["message"]["text"] == render(
            "fr", "You have no cases. /report starts a report."
        )
        # Pressed where it was issued: the option key reaches the handlers.
        own = {"type": "press", "chat": "web:defender-en", "sender": "defender-en"}
        await socket.send_json({**own, "token": token})
        answer = await until(socket, "message", chat="web:defender-en", sender=None)
        assert answer["message"]["text"] == render(
            "es", "I will write to you in English from now on."
        )


async def test_nobody_writes_in_another_persons_private_chat(demo: Demo) -> None:
    async with connect(demo) as socket:
        for event in (
            {"type": "send", "chat": "web:defender-ar", "sender": "defender-en", "text": "/start"},
            {"type": "send", "chat": "web:triage", "sender": "stranger", "text": "/start"},
            {"type": "advance", "minutes": 7},
        ):
            await socket.send_json(event)
        await socket.send_json(
            {"type": "send", "chat": "web:triage", "sender": "advisor-1", "text": "ping"}
        )
        shown = await until(socket, "message", chat="web:triage")
        assert shown["message"]["sender"] == "advisor-1"
    assert [m.text for m in demo.web.chats.messages.values()] == ["ping"]
    assert demo.clock.now().minute == 0


async def test_the_demo_registry_is_seeded(demo: Demo) -> None:
    members = demo.app.services.db.members
    names = {org.name for org in await members.list_organisations()}
    assert names == {org.name for org in ORGANISATIONS}
    group = await members.group("web:group-2")
    assert group is not None and group.language == "ar"
    assert [o.name for o in await members.organisations_of("web:member-1")] == [
        ORGANISATIONS[0].name
    ]
    assert {g.address for g in await members.audience(region="Africa")} == {"web:group-1"}


async def test_an_outbox_send_repeated_with_its_txn_id_is_delivered_once(demo: Demo) -> None:
    messenger, group = demo.web.messenger, Address.parse("web:group-1")
    first = await messenger.send_text(group, "Appeal", txn_id="sosbot.outbox.7")
    again = await messenger.send_text(group, "Appeal", txn_id="sosbot.outbox.7")
    asked = await messenger.ask(group, "Sign?", [Option("sign", "Sign")], txn_id="sosbot.outbox.8")
    assert again == first
    assert await messenger.ask(group, "Sign?", [], txn_id="sosbot.outbox.8") == asked
    assert [m.text for m in demo.web.chats.messages.values()] == ["Appeal", "Sign?"]


async def test_a_long_session_is_not_rate_limited_while_the_clock_stands(demo: Demo) -> None:
    async with connect(demo) as socket:
        for _ in range(40):
            await socket.send_json(
                {"type": "send", "chat": "web:advisor-1", "sender": "advisor-1", "text": "/cases"}
            )
            answer = await until(socket, "message", chat="web:advisor-1", sender=None)
            assert "too fast" not in answer["message"]["text"]

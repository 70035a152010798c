"""The playground's defender pane shows case news, consent and a check-in
(through the real app: web transport, outbox dispatcher, scheduler)."""

from __future__ import annotations

from typing import Any

from bot.demo import Demo
from tests.demo.test_transport import Socket, connect, until

DEFENDER = {"chat": "web:defender-en", "sender": "defender-en"}
ADVISOR = {"chat": "web:triage", "sender": "advisor-1"}


async def bot_says(socket: Socket, chat: str, needle: str) -> dict[str, Any]:
    """The next message of the bot in ``chat`` that contains ``needle``."""
    while True:
        event = await until(socket, "message", chat=chat, sender=None)
        if needle in event["message"]["text"]:
            return dict(event["message"])


async def press(socket: Socket, message: dict[str, Any], label: str) -> None:
    token = next(b["token"] for b in message["buttons"] if b["label"] == label)
    await socket.send_json({"type": "press", **DEFENDER, "token": token})


async def test_news_consent_and_a_checkin_in_the_defender_pane(demo: Demo) -> None:
    async with connect(demo) as socket:
        await socket.send_json({"type": "send", **DEFENDER, "text": "/sos armed men outside"})
        card = await bot_says(socket, "web:triage", "SOS")
        ref = next(w for w in card["text"].split() if w.startswith("C-"))
        await socket.send_json({"type": "send", **DEFENDER, "text": "/cancel"})

        # News: an advisor takes the case on; the defender hears it, without a name.
        await socket.send_json({"type": "send", **ADVISOR, "text": f"/claim {ref}"})
        news = await bot_says(socket, "web:defender-en", "News on your case")
        assert "a person of the advisory group is handling it" in news["text"]
        assert "Ana" not in news["text"] and "advisor-1" not in news["text"]

        # Consent, with buttons.
        await socket.send_json({"type": "send", **DEFENDER, "text": f"/consent {ref}"})
        shown = await bot_says(socket, "web:defender-en", "Consent for")
        await press(socket, shown, "may be shared with trusted partners")
        changed = await bot_says(socket, "web:defender-en", "is now")
        assert "trusted partners" in changed["text"]

        # A check-in: set up, then asked when the demo clock moves on.
        await socket.send_json({"type": "send", **DEFENDER, "text": "/checkin every 1h for 1d"})
        word = await bot_says(socket, "web:defender-en", "duress word")
        await press(socket, word, "No duress word")
        await bot_says(socket, "web:defender-en", "Check-ins are on")
        await socket.send_json({"type": "advance", "minutes": 60})
        asked = await bot_says(socket, "web:defender-en", "are you safe?")
        assert [b["label"] for b in asked["buttons"]] == ["I am safe", "I need help"]
        await press(socket, asked, "I am safe")
        await bot_says(socket, "web:defender-en", "glad you are safe")

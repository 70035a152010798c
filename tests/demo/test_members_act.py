"""The playground shows members acting (issue 16): a proposal from a member
group that becomes an appeal, and the outcome news after it — over the
page's own websocket, as a trainer's clicks would send them."""

from __future__ import annotations

import re
from typing import Any

from bot.demo import Demo
from tests.demo.constants import APPEAL_REF, ref_in
from tests.demo.test_transport import Socket, connect

PROPOSAL_REF = re.compile(r"P-[0-9A-HJKMNP-TV-Z]{6}")


class Listener:
    """The bot's messages as they come; answers may arrive in any order."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def bot_says(self, chat: str, contains: str) -> str:
        """The bot's first message in ``chat`` that contains ``contains`` (seen or next)."""

        def fits(message: dict[str, Any]) -> bool:
            return message.get("chat") == chat and contains in (message.get("text") or "")

        for message in self.seen:
            if fits(message):
                self.seen.remove(message)
                return str(message["text"])
        while True:
            event: dict[str, Any] = await self.socket.receive_json(timeout=10)
            message = event.get("message", {})
            if event["type"] != "message" or message.get("sender") is not None:
                continue
            if fits(message):
                return str(message["text"])
            self.seen.append(message)


async def say(socket: Socket, chat: str, sender: str, text: str) -> None:
    await socket.send_json({"type": "send", "chat": chat, "sender": sender, "text": text})


async def test_a_proposal_and_an_outcome_in_the_playground(demo: Demo) -> None:
    async with connect(demo) as socket:
        bot_says = Listener(socket).bot_says
        await say(
            socket,
            "web:group-1",
            "member-1",
            "/propose A solidarity letter to the journalists of Mombasa.",
        )
        received = await bot_says("web:group-1", "reached the advisory group")
        proposal = ref_in(received, PROPOSAL_REF)
        card = await bot_says("web:triage", proposal)
        assert "journalists of Mombasa" in card and "Haki Coalition" in card

        await say(socket, "web:triage", "advisor-1", f"/proposal accept {proposal}")
        drafted = await bot_says("web:triage", f"drafted from {proposal}")
        appeal = ref_in(drafted, APPEAL_REF)
        await bot_says("web:group-1", f"{appeal}")  # the group hears it was accepted
        for command, answer in (
            (f"/appeal target {appeal} region=Africa", "Audience of"),
            (f"/appeal deadline {appeal} 2026-03-20", "Deadline of"),
            (f"/appeal approve {appeal}", "approvals"),
        ):
            await say(socket, "web:triage", "advisor-1", command)
            await bot_says("web:triage", answer)
        await say(socket, "web:triage", "advisor-2", f"/appeal approve {appeal}")
        await bot_says("web:triage", f"Next: /appeal send {appeal}")
        await say(socket, "web:triage", "advisor-1", f"/appeal send {appeal}")
        await bot_says("web:triage", "being sent to 1 member group")
        await bot_says("web:group-1", f"/sign {appeal}")
        await say(socket, "web:group-1", "member-1", f"/sign {appeal}")
        await bot_says("web:group-1", "Thank you")

        await say(
            socket,
            "web:triage",
            "advisor-1",
            f"/appeal outcome {appeal} en The journalists are safe.",
        )
        await bot_says("web:triage", "saved")
        await say(socket, "web:triage", "advisor-1", f"/appeal outcome {appeal} send")
        await bot_says("web:triage", "being sent to 1 member group")
        news = await bot_says("web:group-1", "The journalists are safe.")
        assert "your organisation signed" in news


async def test_advisors_have_names_in_the_playground(demo: Demo) -> None:
    assert set(demo.app.services.settings.advisor_names.values()) == {"Ana", "Ben"}

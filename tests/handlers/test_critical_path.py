"""The critical path keeps every promise (issue 12): one unit of work per turn,
every message through the outbox, the truth told to the defender, no turn lost
to an error, and an edit never taken for a second message."""

from __future__ import annotations

import ast
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.messages import Address, Platform
from storage.errors import StorageError
from tests.handlers.test_intake import ANA, full_report, ref_in
from tests.harness.bot import ALICE, TRIAGE, Harness, default_settings, make_harness

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
SENDS = {"send_text", "ask", "send_file", "delete_message", "delete_messages"}
QUEUEING = ("post", "turn")  # services.post (the outbox) and turn.say / turn.ask


def direct_sends(path: Path) -> list[str]:
    """Calls of a send method on anything but the outbox's Postman (or a Turn)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in SENDS:
            continue
        receiver = ast.unparse(node.func.value)
        if receiver.split(".")[-1] in QUEUEING or ".db." in f".{receiver}.":
            continue  # the outbox, a turn, or a repository (``db.cases.ask`` records a question)
        found.append(f"{path.name}:{node.lineno} {receiver}.{node.func.attr}")
    return found


def test_no_handler_sends_through_a_transport_or_the_hub() -> None:
    allowed = {"hub.py", "messenger.py", "outgoing.py"}  # the interfaces themselves
    offending = [
        call
        for path in sorted(HANDLERS.glob("*.py"))
        if path.name not in allowed
        for call in direct_sends(path)
    ]
    # The one exception: the error boundary's last word when storage itself is down.
    assert [(c.split(":")[0], c.split()[1]) for c in offending] == [
        ("router.py", "messenger.send_text")
    ]


def test_the_scan_finds_a_direct_send(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "async def f(services, turn, room):\n    await services.hub.send_text(room, 'x')\n"
    )
    assert direct_sends(sample) == ["sample.py:2 services.hub.send_text"]


async def test_a_turn_that_fails_half_way_leaves_nothing_and_says_so(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = bot.db.deadlines.schedule

    async def broken(kind: str, ref: str, *args: object, **kwargs: object) -> None:
        if kind == "card-check":  # after the case, its card and its escalation were written
            raise StorageError("disk full")
        await schedule(kind, ref, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.db.deadlines, "schedule", broken)
    secret = "Coronel Ruiz amenazó a Lucía Pérez"
    with caplog.at_level(logging.INFO):
        out = await bot.send(ANA, f"/sos {secret}", hint="es")
    assert [o.text for o in out] == [
        "Algo salió mal y no se guardó nada. Por favor, envíelo de nuevo."
    ]
    assert await bot.db.cases.list_cases("open") == []
    assert [d for d in await bot.db.deadlines.pending() if d.object_ref.startswith("C-")] == []
    assert bot.matrix.to(TRIAGE) == [], "no card for a case that does not exist"
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "turn failed: StorageError at" in logged
    assert "Ruiz" not in logged and "Pérez" not in logged and "7001" not in logged
    assert bot.router.failed_turns == 1
    monkeypatch.setattr(bot.db.deadlines, "schedule", schedule)
    again = await bot.send(ANA, f"/sos {secret}", hint="es")
    assert ref_in(again[0].text), "sent again, it is saved"


async def test_every_committed_case_has_its_deadlines(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    kinds = {(d.kind, d.object_ref) for d in await bot.db.deadlines.pending()}
    assert ("escalation", ref) in kinds, "the escalation commits with the case"
    assert ("card-check", ref) in kinds, "and so does the check that a room got the card"


async def test_alerted_only_once_a_room_has_the_card(tmp_path: Path) -> None:
    settings = default_settings(emergency_contact="Línea de emergencia: +57 300 000 0000")
    bot = await make_harness(tmp_path, settings)
    try:
        bot.matrix.failing.add(TRIAGE)
        out = await bot.send(ANA, "/sos men with guns at the gate", hint="es")
        ref = ref_in(out[0].text)
        texts = [o.text for o in bot.telegram.to(ANA)]
        assert texts and not [t for t in texts if "alertado" in t], "not alerted yet"
        assert any(ref in t and "guardada" in t for t in texts), "but saved"
        await bot.advance(timedelta(minutes=2))
        truth = bot.telegram.last(ANA).text
        assert ref in truth and "todavía no lo ha recibido" in truth
        assert "Línea de emergencia: +57 300 000 0000" in truth, "shown as written"
        assert not [t for t in (o.text for o in bot.telegram.to(ANA)) if "alertado" in t]
        bot.matrix.failing.clear()  # the room is back
        await bot.advance(timedelta(minutes=1))
        cards = [o for o in bot.matrix.to(TRIAGE) if ref in o.text and "SOS" in o.text.upper()]
        assert len(cards) == 1
        alerted = [o.text for o in bot.telegram.to(ANA) if "alertado" in o.text]
        assert alerted == [f"El grupo asesor ha sido alertado sobre {ref}."]
        await bot.advance(timedelta(minutes=5))
        assert len([o for o in bot.telegram.to(ANA) if "alertado" in o.text]) == 1
    finally:
        await bot.close()


async def test_no_truth_message_when_the_card_arrived(bot: Harness) -> None:
    await bot.send(ANA, "/sos help")
    before = len(bot.telegram.to(ANA))
    await bot.advance(timedelta(minutes=3))
    assert len(bot.telegram.to(ANA)) == before


async def test_an_edit_is_never_a_second_message(bot: Harness) -> None:
    await bot.send(ANA, "/report")
    await bot.send(ANA, "They burned the office")
    from handlers.messages import IncomingMessage

    edited = IncomingMessage(chat=ANA, sender=ANA, text="They burned the office twice", edited=True)
    await bot.router.deliver(edited, bot.telegram)
    from tests.harness.bot import drain_outbox

    await drain_outbox(bot)
    assert "edited messages" in bot.telegram.last(ANA).text
    conversation = await bot.db.conversations.load((await bot.db.accounts.find(str(ANA))).id)  # type: ignore[union-attr]
    assert conversation is not None
    assert conversation.data["draft"]["what"] == ["They burned the office"]


async def test_an_edited_command_in_a_room_is_ignored(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    from handlers.messages import IncomingMessage

    before = len(bot.matrix.to(TRIAGE))
    note = IncomingMessage(
        chat=TRIAGE, sender=ALICE, text=f"/note {ref} seen twice?", is_private=False, edited=True
    )
    await bot.router.deliver(note, bot.matrix)
    assert len(bot.matrix.to(TRIAGE)) == before
    assert not [e for e in await bot.db.cases.history(ref) if "seen twice" in (e.text or "")]


async def test_group_commit_keeps_each_turn_whole(bot: Harness) -> None:
    """Concurrent turns share commits; a failing turn rolls back alone."""
    import asyncio

    people = [Address(Platform.TELEGRAM, str(9000 + n)) for n in range(12)]
    before = bot.db.group_commit.commits
    await asyncio.gather(*(bot.send(p, f"/sos threat {n}") for n, p in enumerate(people)))
    cases = await bot.db.cases.list_cases("open")
    assert len(cases) == 12
    assert bot.db.group_commit.commits - before < 12 + 12, "turns shared commits"

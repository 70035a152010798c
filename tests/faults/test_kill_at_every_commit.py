"""SIGKILL at every commit of a report turn (issue 12), on SQLite and PostgreSQL.

The defender writes a report up to its summary in a bot that then stops.
For each N, a copy of that bot's data runs in a process that kills itself
right after its Nth durable commit following the defender's "Send the
report"; the same data is then restarted. Whatever N is:

- if the turn was committed, the defender gets their reference, the card
  reaches the triage group and the defender hears "alerted" after it;
  at least once, and a second copy (the kill fell while it was out, so the
  bot cannot know whether it arrived) says that it may repeat;
- if the turn was lost (killed before its commit), nothing of it exists,
  and pressing the button again, as the person would, makes one case;
- no report is half-written: each case has its text, place and people, and
  its escalation deadline.

N runs up from 1 until the process outlives the turn and everything it sends.
"""

from __future__ import annotations

import re

from bot.broadcast.lane import MAY_REPEAT
from tests.broadcast.conftest import start_bot
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser, StoredMessage
from tests.faults.processes import (
    MAX_COMMITS,
    Place,
    Places,
    Zygote,
    copies,
    last_id,
    texts_after,
)

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
TOKEN = "123456:TEST-token-for-the-fake-server-only"


async def test_a_report_turn_killed_at_every_commit(places: Places) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        triage = server.new_group("Advisory group")
        user = server.new_user("Defender")
        template = places.template()
        summary = await summary_of_a_report(server, template, triage, user)
        survived, repeats, kill_at = False, 0, 0
        zygote = await Zygote.start()
        try:
            while not survived and kill_at < MAX_COMMITS:
                kill_at += 1
                place = places.copy(template, kill_at)
                before_user, before_triage = last_id(server, user), last_id(server, triage)
                await zygote.run(server, place, triage, kill_at)
                zygote.arm(place)
                server.press_button(user, user, summary.message_id, text="Send the report")
                survived = not await zygote.died()
                told, cards = await restart_and_check(
                    server, place, triage, user, summary, kill_at, (before_user, before_triage)
                )
                repeats += cards - 1
                assert await whole_cases(place) == [told]
        finally:
            await zygote.stop()
        assert survived, f"still killed at commit {MAX_COMMITS}"
        assert kill_at > 3, "the turn and its sends span several commits"
        assert repeats <= 2, "a repeat only where a kill fell while the card was out"


async def summary_of_a_report(
    server: FakeTelegramServer, place: Place, triage: FakeChat, user: FakeUser
) -> StoredMessage:
    """The report up to its summary, in a bot that then stops: the summary message."""
    app = await start_bot(server, place.folder, triage, database_url=place.url or None)
    try:
        steps = [
            ("say", "/report", "What is happening"),
            ("say", "Armed men came to the office of the collective.", "Noted"),
            ("press", "Done", "Where"),
            ("say", "Cauca, Colombia", "Who"),
            ("say", "The collective's spokesperson", "How urgent"),
            ("press", "Within days", "What may the network"),
            ("press", "Advisory group only", "safe way"),
            ("press", "Skip", "Please check"),
        ]
        for how, what, expect in steps:
            after = last_id(server, user)
            if how == "say":
                server.user_sends(user, user, what)
            else:
                question = await server.wait_for_message(
                    user.id, lambda m, w=what: w in m.button_texts
                )
                server.press_button(user, user, question.message_id, text=what)
            await server.wait_for_message(
                user.id, lambda m, e=expect: e in (m.text or ""), after=after, timeout=30
            )
        return await server.wait_for_message(user.id, lambda m: "Send the report" in m.button_texts)
    finally:
        await app.stop()


async def restart_and_check(
    server: FakeTelegramServer,
    place: Place,
    triage: FakeChat,
    user: FakeUser,
    summary: StoredMessage,
    kill_at: int,
    before: tuple[int, int],
) -> tuple[str, int]:
    """The same data restarted (in this process): the reference and how many
    copies of the card the triage group got."""
    before_user, before_triage = before
    # The press is still unconfirmed at the fake server: the restarted bot gets it again.
    redelivered = any("callback_query" in update for update in server.pending_updates())
    restarted = await start_bot(server, place.folder, triage, database_url=place.url or None)
    try:
        committed = await restarted.services.db.cases.list_cases("open") != []
        told = None
        if committed or redelivered:  # the person is told: wait for it
            told = await told_reference(server, user, before_user, timeout=30)
            assert told is not None, f"kill {kill_at}: a case nobody was told of"
        if told is None:  # the turn itself was lost, its update gone: the person presses again
            assert await restarted.services.db.cases.list_cases("open") == [], (
                f"kill {kill_at}: a case nobody was told of"
            )
            server.press_button(user, user, summary.message_id, text="Send the report")
            told = await told_reference(server, user, before_user, timeout=30)
        assert told is not None, f"kill {kill_at}: the report was not saved"
        expected = f"The advisory group has been alerted about {told}."
        await server.wait_for_message(
            user.id, lambda m: (m.text or "").endswith(expected), after=before_user, timeout=30
        )
        cards = copies(
            texts_after(server, triage, before_triage),
            lambda t: f"New case {told}" in t,
            MAY_REPEAT,
        )
        assert 1 <= len(cards) <= 2, f"kill {kill_at}: {len(cards)} cards"
        alerted = copies(
            texts_after(server, user, before_user), lambda t: t.endswith(expected), MAY_REPEAT
        )
        assert 1 <= len(alerted) <= 2, f"kill {kill_at}: told {len(alerted)} times"
        return told, len(cards)
    finally:
        await restarted.stop()


async def told_reference(
    server: FakeTelegramServer,
    user: FakeUser,
    after: int,
    timeout: float,  # noqa: ASYNC109
) -> str | None:
    try:
        receipt = await server.wait_for_message(
            user.id, lambda m: "case reference" in (m.text or ""), after=after, timeout=timeout
        )
    except TimeoutError:
        return None
    found = REF.search(receipt.text or "")
    return found.group(0) if found else None


async def whole_cases(place: Place) -> list[str]:
    """Every case whole, with its escalation; the references of the cases."""
    db = await place.open()
    try:
        cases = await db.cases.list_cases("open")
        deadlines = {(d.kind, d.object_ref) for d in await db.deadlines.pending()}
        for case in cases:
            detail = await db.cases.get(case.ref)
            assert detail.what and detail.where and detail.who, "a half-written report"
            assert ("escalation", case.ref) in deadlines, "a case without its escalation"
        return [c.ref for c in cases]
    finally:
        await db.close()

"""Issue 15 on the fake Bot API: case news through the outbox dispatcher, a
check-in with buttons, and voice notes and locations kept out of an
unencrypted Telegram group even when content is allowed there."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.fakes.telegram.objects import as_chat
from tests.fakes.telegram.server import FakeUser
from tests.telegram.conftest import TelegramWorld
from tests.telegram.test_intake_telegram import last_id, press, say
from tests.telegram.test_transport_telegram import report

PACE = 30.0  # seconds to wait for an outbox message (the Telegram gate paces a busy chat)


def user_sends(world: TelegramWorld, user: FakeUser, content: dict[str, object]) -> None:
    """A message kind the fake has no helper for (voice, location), as the Bot API sends it."""
    world.server._user_message(world.server.bot(None), user, as_chat(user), content, None, None)


async def test_news_reaches_the_defender_without_the_advisor(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user)
    before = last_id(world, user)
    world.server.user_sends(world.advisor, world.triage, f"/ack {ref}")
    # The outbox respects Telegram's pace for one chat, which the report just used up.
    news = await world.server.wait_for_message(
        user.id, lambda m: "News on your case" in (m.text or ""), PACE, after=before
    )
    assert ref in (news.text or "") and "a person of the advisory group" in (news.text or "")
    assert "Alice" not in (news.text or "") and str(world.advisor.id) not in (news.text or "")
    world.server.user_sends(world.advisor, world.triage, f"/close {ref} outcome=resolved settled")
    closed = await world.server.wait_for_message(
        user.id, lambda m: "closed it" in (m.text or ""), PACE, after=before
    )
    assert f"/update {ref}" in (closed.text or "") and "settled" not in (closed.text or "")


async def test_a_checkin_asks_with_buttons_and_takes_the_answer(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await report(world, user)
    answer = await say(world, user, "/checkin every 1h for 1d")
    assert "duress word" in (answer.text or "")
    await press(world, user, "No duress word")
    await world.app.scheduler.advance(timedelta(hours=1))
    question = await world.server.wait_for_message(
        user.id, lambda m: "are you safe?" in (m.text or ""), PACE
    )
    assert question.button_texts == ["I am safe", "I need help"]
    reply = await press(world, user, "I am safe")
    assert "glad you are safe" in (reply.text or "")


async def test_voice_and_location_never_reach_an_unencrypted_group(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user)
    before = last_id(world, user)
    world.server.user_sends(world.advisor, world.triage, f"/ask {ref} Can you describe them?")
    # The advisor's turn is committed (the conversation window is open) once the
    # question, queued in it, reaches the defender.
    await world.server.wait_for_message(
        user.id, lambda m: "Message from the advisory group" in (m.text or ""), after=before
    )
    stored = world.server.store_file(b"OggS-voice", "document", mime_type="audio/ogg")
    voice = {k: v for k, v in world.server.document_json(stored).items() if k != "file_name"}
    user_sends(world, user, {"voice": {**voice, "duration": 3, "mime_type": "audio/ogg"}})
    await world.server.wait_for_message(
        world.triage.id, lambda m: "voice note or video" in (m.text or "")
    )
    user_sends(world, user, {"location": {"latitude": 2.4448, "longitude": -76.6147}})
    await world.server.wait_for_message(
        world.triage.id, lambda m: "A location was shared" in (m.text or "")
    )
    shown = world.server.history(world.triage.id)
    assert not [m for m in shown if "voice" in m.data or "document" in m.data or "audio" in m.data]
    assert not [m for m in shown if "2.444" in (m.text or "") or "76.61" in (m.text or "")]
    # Stored sealed with the case: the point is in storage, not in the raw database file.
    case = await world.app.services.db.cases.get(ref)
    kinds = sorted(a.mime_type for a in case.attachments)
    assert kinds == ["application/vnd.sosbot.location+json", "audio/ogg"]
    location = next(a for a in case.attachments if a.mime_type.endswith("location+json"))
    point = json.loads(await world.app.services.db.cases.attachment_data(location.id))
    assert point == {"lat": 2.4448, "lon": -76.6147}
    raw = b"".join(p.read_bytes() for p in sorted((world.path / "data").glob("sosbot.db*")))
    assert b"76.6147" not in raw and b"OggS-voice" not in raw

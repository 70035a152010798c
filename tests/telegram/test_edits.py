"""An edited Telegram message is never a second message (issue 12): in a
private chat the person is told once that edits are not read; in a room an
edited command does nothing."""

from __future__ import annotations

from tests.telegram.conftest import TelegramWorld
from tests.telegram.test_intake_telegram import last_id, say
from tests.telegram.test_transport_telegram import report


async def test_an_edited_report_line_is_not_added_again(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await say(world, user, "/report")
    line = world.server.user_sends(user, user, "They came at night")
    await world.server.wait_for_message(user.id, lambda m: "Noted" in (m.text or ""))
    before = last_id(world, user)
    world.server.user_edits(user, user, line.message_id, "They came at night with guns")
    notice = await world.server.wait_for_message(user.id, after=before)
    assert "edited messages" in (notice.text or "")
    account = await world.app.services.db.accounts.find(f"telegram:{user.id}")
    assert account is not None
    conversation = await world.app.services.db.conversations.load(account.id)
    assert conversation is not None
    assert conversation.data["draft"]["what"] == ["They came at night"]


async def test_an_edited_note_in_the_triage_room_runs_once(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user)
    note = world.server.user_sends(world.advisor, world.triage, f"/note {ref} called the lawyer")
    await world.server.wait_for_message(world.triage.id, lambda m: "Note added" in (m.text or ""))
    world.server.user_edits(
        world.advisor, world.triage, note.message_id, f"/note {ref} called the lawyer twice"
    )
    # A later command proves the edit was handled (one chat's updates run in order).
    world.server.user_sends(world.advisor, world.triage, f"/case {ref}")
    await world.server.wait_for_message(world.triage.id, lambda m: "History" in (m.text or ""))
    history = await world.app.services.db.cases.history(ref)
    notes = [e.text for e in history if e.kind == "note"]
    assert notes == ["called the lawyer"]

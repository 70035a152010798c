"""What the Telegram transport must handle: files, refusals, erasure,
blocked chats, group migration, flood control, and the advisory relay."""

from __future__ import annotations

from handlers.messages import Address
from storage.records import Account
from tests.fakes.telegram.server import FakeUser, tiny_png
from tests.telegram.conftest import TelegramWorld
from tests.telegram.test_intake_telegram import last_id, press, say, send_report


async def report(world: TelegramWorld, user: FakeUser, what: str = "Threat by phone") -> str:
    await say(world, user, "/report")
    await say(world, user, what)
    await press(world, user, "Done")
    await say(world, user, "Cauca")
    await say(world, user, "Ana")
    await press(world, user, "Within days")
    await press(world, user, "Advisory group only")
    await press(world, user, "Skip")
    ref, _ = await send_report(world, user)
    # The last message of the confirming turn: the turn is over.
    await world.server.wait_for_message(user.id, lambda m: "Matrix" in (m.text or ""))
    # Once a room has the card, the defender is told so.
    await world.server.wait_for_message(user.id, lambda m: "has been alerted" in (m.text or ""))
    return ref


def raw_database(world: TelegramWorld) -> bytes:
    files = sorted((world.path / "data").glob("sosbot.db*"))
    assert files
    return b"".join(path.read_bytes() for path in files)


async def account(world: TelegramWorld, user: FakeUser) -> Account | None:
    return await world.app.services.db.accounts.find(f"telegram:{user.id}")


async def test_forget_leaves_no_report_text_or_account_id(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    secret = "Colonel Ramirez threatened Lucia Perez"
    ref = await report(world, user, secret)
    await say(world, user, "/forget")
    await press(world, user, "Yes, erase my data")
    await world.server.wait_for_message(world.triage.id, lambda m: "withdrawn" in (m.text or ""))
    raw = raw_database(world)
    assert secret.encode() not in raw and b"Lucia" not in raw
    assert str(user.id).encode() not in raw
    assert ref.encode() in raw, "the reference, dates and state stay"


async def test_a_photo_reaches_the_triage_room_as_a_file(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    picture = tiny_png(4, 4)
    await say(world, user, "/report")
    await world.server.wait_for_message(user.id, lambda m: "Done" in m.button_texts)
    before = last_id(world, user)
    world.server.user_sends_photo(user, user, picture, caption="the note on our door")
    await world.server.wait_for_message(user.id, lambda m: "Noted" in (m.text or ""), after=before)
    await press(world, user, "Done")
    for answer in ("Cauca", "Ana"):
        await say(world, user, answer)
    await press(world, user, "Within weeks")
    await press(world, user, "Advisory group only")
    await press(world, user, "Skip")
    await press(world, user, "Send the report")
    sent = await world.server.wait_for_message(world.triage.id, lambda m: m.document is not None)
    assert sent.document is not None
    assert world.server.file_bytes(sent.document["file_id"]) == picture


async def test_an_oversized_document_is_refused_and_not_stored(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await say(world, user, "/report")
    await world.server.wait_for_message(user.id, lambda m: "Done" in m.button_texts)
    before = last_id(world, user)
    world.server.user_sends_document(user, user, b"x" * 10_000_001, file_name="evidence.pdf")
    refusal = await world.server.wait_for_message(user.id, after=before)
    assert "too large" in (refusal.text or "")
    assert not world.server.requests_for("getFile"), "a refused file is never downloaded"
    found = await account(world, user)
    assert found is not None
    draft = await world.app.services.db.conversations.load(found.id)
    assert draft is not None and not draft.data["draft"].get("attachments")


async def test_empty_and_unsupported_input(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await say(world, user, "/report")
    answer = await press(world, user, "Done")
    assert "write what is happening first" in (answer.text or "")
    answer = await say(world, user, "/update C-7K4QM2")
    assert "/update C-7K4QM2" in (answer.text or "")


async def test_a_blocked_defender_is_marked_inactive(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user)
    world.server.block(user.id)
    world.server.user_sends(world.advisor, world.triage, f"/ask {ref} are you safe?")
    answer = await world.server.wait_for_message(
        world.triage.id, lambda m: "cannot be reached" in (m.text or "")
    )
    assert answer is not None
    found = await account(world, user)
    assert found is not None and not found.active


async def test_group_migration_follows_the_new_id(world: TelegramWorld) -> None:
    member_group = world.server.new_group("Member org")
    db = world.app.services.db
    await db.members.add_group(f"telegram:{member_group.id}", None, "en")
    new_id = world.server.migrate_group(member_group.id)
    # Sending to the stored (old) id: Telegram answers with the new id, the
    # transport follows it, stores it, and delivers.
    await world.app.services.hub.send_text(Address.parse(f"telegram:{member_group.id}"), "hello")
    assert [m.text for m in world.server.messages_to(new_id)] == ["hello"]
    assert await db.members.group(f"telegram:{new_id}") is not None
    assert await db.members.group(f"telegram:{member_group.id}") is None


async def test_a_429_waits_retry_after_and_delivers(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    world.server.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1}
    )
    answer = await say(world, user, "/help")
    assert "/report" in (answer.text or "") or answer.text
    statuses = [r.status for r in world.server.requests_for("sendMessage")]
    assert statuses[0] == 429 and 200 in statuses


async def test_relay_both_ways_over_telegram(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user)
    before = last_id(world, user)
    world.server.user_sends(world.advisor, world.triage, f"/ask {ref} Where are you now?")
    question = await world.server.wait_for_message(user.id, after=before)
    assert "Where are you now?" in (question.text or "")
    assert "Alice" not in (question.text or "") and str(world.advisor.id) not in (
        question.text or ""
    )
    world.server.user_sends(user, user, "At my cousin's house.")
    relayed = await world.server.wait_for_message(
        world.triage.id, lambda m: "cousin" in (m.text or "")
    )
    assert ref in (relayed.text or "") and str(user.id) not in (relayed.text or "")


async def test_cleanup_deletes_both_sides_of_the_report_but_keeps_the_receipt(
    world: TelegramWorld,
) -> None:
    user = world.server.new_user("Defender")
    ref = await report(world, user, "They painted threats on the wall")
    await press(world, user, "Delete the messages")
    await world.server.wait_for_message(user.id, lambda m: "deleted" in (m.text or ""))
    left = [m.text or "" for m in world.server.history(user.id)]
    assert not [t for t in left if "painted threats" in t or "What is happening" in t]
    assert [t for t in left if ref in t and "case reference" in t], "the receipt stays"
    assert world.server.requests_for("deleteMessage")
    assert all(r.status == 200 for r in world.server.requests_for("deleteMessage"))


async def test_a_press_is_acted_on_even_when_answering_it_fails(world: TelegramWorld) -> None:
    # The spinner's answer goes out beside the turn: a refused answerCallbackQuery
    # (the query was too old) neither stops nor delays what the press means.
    user = world.server.new_user("Defender")
    world.server.user_sends(user, user, "/report")
    await world.server.wait_for_message(user.id, lambda m: "What is happening" in (m.text or ""))
    world.server.user_sends(user, user, "Armed men came to the office.")
    await world.server.wait_for_message(user.id, lambda m: "Noted" in (m.text or ""))
    world.server.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old")
    await press(world, user, "Done")
    await world.server.wait_for_message(user.id, lambda m: "Where" in (m.text or ""))
    [answer] = world.server.requests_for("answerCallbackQuery")
    assert answer.status == 400

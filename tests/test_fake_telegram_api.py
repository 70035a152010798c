"""The fake Telegram Bot API, driven by the real python-telegram-bot stack."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser, tiny_png
from tests.telegram.conftest import fake_bot_api

TOKEN = "123456:TEST-TOKEN"
OTHER_TOKEN = "654321:OTHER-TOKEN"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with fake_bot_api(TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


@pytest.fixture
def alice(server: FakeTelegramServer) -> FakeUser:
    user = server.new_user("Alice", language_code="es")
    server.add_chat(user)  # Alice has started the bot
    return user


def api_error(code: int, description: str) -> dict[str, object]:
    """The body of a Bot API error, as Telegram answers it."""
    return {"ok": False, "error_code": code, "description": description}


def build_app(server: FakeTelegramServer, token: str = TOKEN) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def echo_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    await update.effective_message.reply_text(
        f"Hello {update.effective_user.first_name} ({update.effective_user.language_code})"
    )


# --- HTTP shapes ------------------------------------------------------------------------


async def test_json_shapes_unknown_token_and_unknown_method(server: FakeTelegramServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}{TOKEN}/getMe") as response:
            assert response.status == 200
            body = await response.json()
        assert body["ok"] is True
        assert body["result"]["username"] == "sosbot_test_bot"
        assert body["result"]["is_bot"] is True and body["result"]["id"] == 123456

        async with http.get(f"{server.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == api_error(401, "Unauthorized")
        async with http.post(f"{server.base_url}{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == api_error(404, "Not Found")
        # JSON bodies work as well as PTB's form/multipart ones; method names ignore case.
        async with http.post(
            f"{server.base_url}{TOKEN}/sendmessage", json={"chat_id": 42, "text": "hi"}
        ) as response:
            assert response.status == 400
            body = await response.json()
        assert body == api_error(400, "Bad Request: chat not found")

    wrong = Bot("999:WRONG", base_url=server.base_url)
    try:
        with pytest.raises(InvalidToken, match="rejected by the server"):
            await wrong.initialize()
    finally:
        await wrong.shutdown()
    async with Bot(TOKEN, base_url=server.base_url) as ok_bot:
        with pytest.raises(EndPointNotFound):
            await ok_bot.do_api_request("noSuchMethod")


# --- the real Application -----------------------------------------------------------------


async def test_application_answers_start_via_polling(
    server: FakeTelegramServer, alice: FakeUser
) -> None:
    app = build_app(server)
    app.add_handler(CommandHandler("start", echo_start))
    async with polling(app):
        sent = server.user_sends(alice, alice, "/start")
        reply = await server.wait_for_message(alice.id)
    assert sent.data["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert reply.text == "Hello Alice (es)"
    assert reply.message_id == sent.message_id + 1
    assert reply.data["from"]["id"] == 123456
    assert reply.data["chat"] == {"id": alice.id, "type": "private", "first_name": "Alice"}
    startup = [r.method for r in server.requests][:3]
    assert startup == ["getMe", "deleteWebhook", "getUpdates"]
    assert "drop_pending_updates" not in server.requests_for("deleteWebhook")[0].params
    assert server.pending_updates() == []  # confirmed by PTB's final getUpdates at stop


async def test_pending_updates_survive_a_restart(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    server.user_sends(alice, alice, "/start")
    # A first bot instance fetched the update and died before confirming it.
    fetched = await bot.get_updates(timeout=0)
    assert len(fetched) == 1 and fetched[0].message is not None
    assert len(server.pending_updates()) == 1

    app = build_app(server)
    app.add_handler(CommandHandler("start", echo_start))
    async with polling(app):
        reply = await server.wait_for_message(alice.id)
        await server.wait_until_confirmed()
    assert reply.text == "Hello Alice (es)"
    assert server.pending_updates() == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_until_polling()
    server.user_sends(alice, alice, "hello")
    updates = await poll
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["hello"]
    # Offsets confirm: a poll past the update id drops it.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert server.pending_updates() == []


async def test_a_second_bot_instance_terminates_the_first_poll(
    server: FakeTelegramServer, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_until_polling()
    async with Bot(TOKEN, base_url=server.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_callback_query_round_trip(server: FakeTelegramServer, alice: FakeUser) -> None:
    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = [[InlineKeyboardButton("Yes", callback_data="t:yes")]]
        await update.effective_message.reply_text(
            "Continue?", reply_markup=InlineKeyboardMarkup(keyboard)
        )

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data}")

    app = build_app(server)
    app.add_handler(CommandHandler("start", ask))
    app.add_handler(CallbackQueryHandler(answer))
    async with polling(app):
        server.user_sends(alice, alice, "/start")
        question = await server.wait_for_message(alice.id)
        assert question.button_texts == ["Yes"] and question.callback_data == ["t:yes"]
        query_id = server.press_button(alice, alice, question.message_id, "t:yes")
        assert (await server.wait_for_callback_answer(query_id))["text"] == "Noted"
        edited = await server.wait_for_message(alice.id, lambda m: m.edits > 0)
    assert edited.message_id == question.message_id
    assert edited.text == "You chose t:yes"
    assert edited.reply_markup is None  # an edit without reply_markup removes the keyboard
    with pytest.raises(LookupError):
        server.press_button(alice, alice, question.message_id, "t:no")


# --- errors and limits --------------------------------------------------------------------


async def test_message_length_and_empty_text(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "x" * 4097)
    await bot.send_message(alice.id, "x" * 4096)
    await bot.send_message(alice.id, "😀" * 4096)  # code points count, not UTF-16 units
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, " \n ")
    assert server.requests_for("sendMessage")[0].error == "Bad Request: message is too long"


async def test_callback_data_over_64_bytes_is_rejected(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    def markup(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data=data)]])

    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "pick", reply_markup=markup("a" * 65))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "pick", reply_markup=markup("é" * 33))  # 66 bytes
    message = await bot.send_message(alice.id, "pick", reply_markup=markup("a" * 64))
    assert message.reply_markup is not None
    assert server.messages_to(alice.id)[0].callback_data == ["a" * 64]
    assert server.requests_for("sendMessage")[0].error == "Bad Request: BUTTON_DATA_INVALID"


async def test_blocked_user_and_kicked_bot_are_forbidden(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    group = server.new_group("Members")
    server.block(alice.id)
    server.block(group.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "hi")
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(group.id, "hi")
    updates = await bot.get_updates(timeout=0)
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked", "left"]
    # A user who never started the bot cannot be written to.
    stranger = server.new_user("Bob")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "hi")
    # Writing to the bot again unblocks it.
    server.user_sends(alice, alice, "/start")
    await bot.send_message(alice.id, "welcome back")


async def test_deleted_chat_is_not_found(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    server.delete_chat(alice.id)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(alice.id, "hi")


async def test_strict_flood_windows(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sliding windows: 3 in any 3 s per chat, 20 in any 60 s per group, 30 in any 1 s."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta
    clock = FakeClock()
    server.limiter.clock = clock
    server.rate_limits = True
    for _ in range(3):
        await bot.send_message(alice.id, "burst")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "one too many")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    clock.now += 2.9
    with pytest.raises(RetryAfter):  # a window, not a bucket: nothing refills early
        await bot.send_message(alice.id, "still too many")
    clock.now += 0.1
    await bot.send_message(alice.id, "after waiting")

    group = server.new_group("Members")
    for n in range(20):
        await bot.send_message(group.id, "appeal")
        if n % 3 == 2:
            clock.now += 3.0
    sent_first = clock.now - 18.0
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "appeal")
    assert caught.value.retry_after == dtm.timedelta(seconds=42)  # 20 in any minute
    clock.now = sent_first + 60.0
    message = await bot.send_message(group.id, "appeal")
    assert message.text == "appeal"
    assert server.count_429 == 3
    assert server.requests[-2].status == 429
    assert server.requests[-2].error == "Too Many Requests: retry after 42"
    # An edit counts like a message.
    clock.now += 1.0
    for _ in range(2):
        await bot.edit_message_text(f"edit {_}", group.id, message.message_id)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("edit 3", group.id, message.message_id)

    server.limiter.reset()
    others = [server.add_chat(server.new_user(f"U{i}")) for i in range(31)]
    for chat in others[:30]:
        await bot.send_message(chat.id, "a")
    with pytest.raises(RetryAfter):  # 30 in any second
        await bot.send_message(others[30].id, "b")
    clock.now += 1.0
    await bot.send_message(others[30].id, "b")


async def test_fault_injection(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    server.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", {"retry_after": 7})
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "hi")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert server.count_429 == 1

    server.fail_next("sendMessage", 502, "Bad Gateway", count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(alice.id, "hi")
    assert server.messages_to(alice.id) == []
    await bot.send_message(alice.id, "finally")

    # The answer is lost but the message went out: the bot must not assume it failed.
    server.fail_next("sendMessage", 502, "Bad Gateway", after_effect=True)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "sent anyway")
    assert [m.text for m in server.messages_to(alice.id)] == ["finally", "sent anyway"]


async def test_formatting_is_refused_outright(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    """sosbot sends plain text only: a parse_mode (or entities) never passes the fake."""
    for mode in ("HTML", "MarkdownV2", "Markdown"):
        with pytest.raises(BadRequest, match="plain text"):
            await bot.send_message(alice.id, "<b>Case</b>", parse_mode=mode)
    message = await bot.send_message(alice.id, "plain")
    with pytest.raises(BadRequest, match="plain text"):
        await bot.edit_message_text("*x*", alice.id, message.message_id, parse_mode="Markdown")
    with pytest.raises(BadRequest, match="plain text"):
        await bot.send_document(
            alice.id, b"x", filename="a.txt", caption="<i>x</i>", parse_mode="HTML"
        )
    assert [m.text for m in server.messages_to(alice.id)] == ["plain"]
    assert server.messages_to(alice.id)[0].entities == []
    text = "Case C-7K4QM2 from <Ana> & co *urgent*"  # user text goes through untouched
    assert (await bot.send_message(alice.id, text)).text == text


async def test_methods_sosbot_never_calls_are_not_there(server: FakeTelegramServer) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("sendPhoto", "copyMessage", "getChat", "setMyCommands", "sendChatAction"):
            async with http.post(f"{server.base_url}{TOKEN}/{name}", json={}) as response:
                assert response.status == 404, name
                assert (await response.json())["description"] == "Not Found"


async def test_edit_and_delete_messages(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    message = await bot.send_message(alice.id, "draft")
    edited = await bot.edit_message_text("final", chat_id=alice.id, message_id=message.message_id)
    assert not isinstance(edited, bool) and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("final", chat_id=alice.id, message_id=message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=999)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    await bot.edit_message_text("final", alice.id, message.message_id, reply_markup=markup)
    assert server.messages_to(alice.id)[0].button_texts == ["OK"]

    from_alice = server.user_sends(alice, alice, "my report text")
    assert await bot.delete_message(alice.id, from_alice.message_id)
    assert await bot.delete_message(alice.id, message.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice.id, message.message_id)
    assert server.messages_to(alice.id) == []
    assert server.history(alice.id) == []
    assert len(server.history(alice.id, include_deleted=True)) == 2


async def test_document_upload_and_download_round_trip(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    payload = bytes(range(256)) * 40
    message = await bot.send_document(
        alice.id,
        document=payload,
        filename="evidence.pdf",
        caption="scan",
    )
    assert message.document is not None
    assert message.document.file_name == "evidence.pdf"
    assert message.document.mime_type == "application/pdf"
    assert message.document.file_size == len(payload)
    assert message.caption == "scan"
    file = await bot.get_file(message.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(server.base_file_url)
    assert bytes(await file.download_as_bytearray()) == payload
    assert server.file_bytes(message.document.file_id) == payload
    request = server.requests_for("sendDocument")[0]
    assert request.params["document"] == {
        "filename": "evidence.pdf",
        "mime_type": "application/pdf",
        "size": len(payload),
    }
    assert request.params["chat_id"] == alice.id

    # A document a person sends can be fetched by the bot.
    sent = server.user_sends_document(alice, alice, b"%PDF-1.4 ...", file_name="threat.pdf")
    assert sent.document is not None and sent.document["mime_type"] == "application/pdf"
    file = await bot.get_file(sent.document["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 ..."


async def test_photos_and_size_limits(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    big_photo = server.user_sends_photo(alice, alice, tiny_png(1000, 500))
    assert big_photo.photo is not None
    assert [(p["width"], p["height"]) for p in big_photo.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    sent = server.user_sends_photo(alice, alice, tiny_png(40, 30), caption="the car")
    assert sent.photo is not None and sent.caption == "the car"
    largest = sent.photo[-1]
    assert (largest["width"], largest["height"]) == (40, 30)
    file = await bot.get_file(largest["file_id"])
    assert bytes(await file.download_as_bytearray()) == tiny_png(40, 30)

    server.limits.document_upload = 1000
    with pytest.raises(NetworkError, match="Request Entity Too Large"):
        await bot.send_document(alice.id, document=b"x" * 1001, filename="big.bin")
    server.limits.download = 10
    big = server.user_sends_document(alice, alice, b"y" * 11, file_name="big.bin")
    assert big.document is not None
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(big.document["file_id"])


async def test_group_migration(server: FakeTelegramServer, bot: Bot) -> None:
    group = server.new_group("Members")
    await bot.send_message(group.id, "before")
    new_id = server.migrate_group(group.id)
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "after")
    assert caught.value.new_chat_id == new_id
    assert server.requests[-1].error == "Bad Request: group chat was upgraded to a supergroup chat"
    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates if u.message]
    assert [(m.chat.id, m.migrate_to_chat_id) for m in messages if m.migrate_to_chat_id] == [
        (group.id, new_id)
    ]
    assert [(m.chat.id, m.migrate_from_chat_id) for m in messages if m.migrate_from_chat_id] == [
        (new_id, group.id)
    ]
    await bot.send_message(new_id, "after")
    assert [m.text for m in server.messages_to(new_id)] == ["after"]


async def test_group_privacy_mode(server: FakeTelegramServer, bot: Bot, alice: FakeUser) -> None:
    group = server.new_group("Members")
    card = await bot.send_message(group.id, "Appeal A-9TXW3B")
    server.user_sends(alice, group, "just chatting")
    server.user_sends(alice, group, "!sign A-9TXW3B")
    server.user_sends(alice, group, "/sign@sosbot_test_bot A-9TXW3B")
    server.user_sends(alice, group, "/sign@other_bot A-9TXW3B")
    server.user_sends(alice, group, "I sign", reply_to=card.message_id)
    updates = await bot.get_updates(timeout=0)
    texts = [u.message.text for u in updates if u.message]
    assert texts == ["/sign@sosbot_test_bot A-9TXW3B", "I sign"]
    command = next(u.message for u in updates if u.message and u.message.entities)
    assert command.entities[0].length == len("/sign@sosbot_test_bot")
    assert len(server.history(group.id)) == 6  # everyone else still sees them


async def test_allowed_updates_filter(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    server.user_sends(alice, alice, "text")
    message = await bot.send_message(
        alice.id,
        "q",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    server.press_button(alice, alice, message.message_id, "a")
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a"]
    assert len(updates) == 1
    server.user_sends(alice, alice, "ignored now")
    assert len(server.pending_updates()) == 1  # only the callback query is kept


async def test_two_bots_are_separate(server: FakeTelegramServer, alice: FakeUser) -> None:
    other_id = server.add_bot(OTHER_TOKEN, username="other_test_bot")
    async with (
        Bot(TOKEN, base_url=server.base_url) as first,
        Bot(OTHER_TOKEN, base_url=server.base_url) as second,
    ):
        assert (await second.get_me()).username == "other_test_bot"
        with pytest.raises(Forbidden):  # Alice started only the first bot
            await second.send_message(alice.id, "hi")
        server.user_sends(alice, alice, "/start", bot=OTHER_TOKEN)
        await second.send_message(alice.id, "hi from the other bot")
        assert await first.get_updates(timeout=0) == ()
    assert [m.text for m in server.messages_to(alice.id, bot=other_id)] == ["hi from the other bot"]
    assert server.messages_to(alice.id) == []


async def test_wait_for_message_sees_earlier_messages_and_times_out(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    first = await bot.send_message(alice.id, "one")
    assert (await server.wait_for_message(alice.id)).message_id == first.message_id
    waiter = asyncio.create_task(
        server.wait_for_message(alice.id, lambda m: m.text == "two", timeout=5)
    )
    await bot.send_message(alice.id, "two")
    assert (await waiter).text == "two"
    with pytest.raises(TimeoutError, match="present"):
        await server.wait_for_message(alice.id, after=first.message_id + 1, timeout=0.05)


def test_user_and_chat_helpers() -> None:
    user = FakeUser(7, "Ana", username="ana", language_code="ar")
    assert FakeChat.private(user).to_api() == {
        "id": 7,
        "type": "private",
        "username": "ana",
        "first_name": "Ana",
    }
    assert user.to_api()["language_code"] == "ar"
    assert FakeChat.group(-5, "G").is_group and not FakeChat.private(user).is_group


async def test_replies(server: FakeTelegramServer, bot: Bot, alice: FakeUser) -> None:
    photo = server.user_sends_photo(alice, alice, tiny_png(10, 10), caption="evidence")
    reply = await bot.send_message(alice.id, "Got it", reply_to_message_id=photo.message_id)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == photo.message_id
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(alice.id, "x", reply_to_message_id=999)
    logged = server.requests_for("sendMessage")[0].params
    assert logged["chat_id"] == alice.id
    assert logged["reply_parameters"] == {"message_id": photo.message_id}


async def test_people_edit_their_messages(
    server: FakeTelegramServer, bot: Bot, alice: FakeUser
) -> None:
    sent = server.user_sends(alice, alice, "Threat in Lima")
    server.user_edits(alice, alice, sent.message_id, "Threat in Cusco")
    updates = await bot.get_updates(timeout=0)
    assert updates[-1].edited_message is not None
    assert updates[-1].edited_message.text == "Threat in Cusco"
    assert updates[-1].edited_message.message_id == sent.message_id

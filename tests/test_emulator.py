"""The Bot API emulator, driven by the real python-telegram-bot over HTTP (no mocks)."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
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
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.emulator import BotAPIEmulator

# PTB 22 warns, whenever it builds a RetryAfter, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

AIDA = 42
PLENTY = {"global_rate": 1e6, "global_burst": 1000, "per_chat_rate": 1e6, "per_chat_burst": 1000}


class FakeClock:
    """A monotonic clock the test moves by hand, for flood control."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def png(width: int = 2, height: int = 1) -> bytes:
    """The start of a PNG file: enough for Telegram (and the emulator) to read its size."""
    header = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + header + b"\x00" * 16


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after in seconds, whether PTB gives an int or a timedelta."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def keyboard(*labels_and_data: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t, callback_data=d) for t, d in labels_and_data]]
    )


@pytest.fixture
def emulator() -> Iterator[BotAPIEmulator]:
    """A running emulator with flood limits out of the way and Aida as a user."""
    with BotAPIEmulator(**PLENTY) as emulator:
        emulator.add_user(AIDA, "Aida", username="aida_kz")
        yield emulator


@pytest.fixture
async def bot(emulator: BotAPIEmulator) -> AsyncIterator[Bot]:
    """A PTB Bot pointed at the emulator."""
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        yield bot


@pytest.fixture
async def polling_app(
    emulator: BotAPIEmulator,
) -> AsyncIterator[Callable[..., Awaitable[Application]]]:
    """Starts a PTB Application polling the emulator with the given handlers; stops it after."""
    apps: list[Application] = []

    async def start(*handlers: BaseHandler) -> Application:
        app = ApplicationBuilder().token(emulator.token).base_url(emulator.base_url).build()
        app.add_handlers(list(handlers))
        apps.append(app)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        return app

    try:
        yield start
    finally:
        for app in apps:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Welcome with topic buttons."""
    buttons = keyboard(("Kazakhstan", "topic:kz"), ("Economy", "topic:economy"))
    await update.effective_message.reply_html("<b>Welcome</b>, pick topics:", reply_markup=buttons)


async def toggle_topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tick the pressed topic."""
    query = update.callback_query
    await query.answer(f"Saved {query.data}")
    await query.edit_message_reply_markup(
        keyboard(("Kazakhstan", "topic:kz"), ("Economy ✓", "topic:economy"))
    )


# -- the bot's side: getMe, polling, handlers ---------------------------------------------------


async def test_get_me_answers_with_the_bot_user(emulator, bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "newsdigest_test_bot", True)
    assert bot.username == "newsdigest_test_bot"


async def test_wrong_token_and_unknown_method_are_refused(emulator, bot):
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await Bot("999:wrong", base_url=emulator.base_url).get_me()
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": AIDA})


async def test_start_command_reaches_the_handler_and_the_reply_is_recorded(emulator, polling_app):
    await polling_app(CommandHandler("start", start_command))
    emulator.user_sends(AIDA, "/start")

    [welcome] = await emulator.wait_for(AIDA)
    assert welcome.text == "Welcome, pick topics:"
    assert welcome.html == "<b>Welcome</b>, pick topics:"
    assert welcome.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert welcome.buttons == [[("Kazakhstan", "topic:kz"), ("Economy", "topic:economy")]]
    assert [m.message_id for m in emulator.sent(AIDA)] == [welcome.message_id]
    assert emulator.transcript_text(AIDA) == (
        "Aida: /start\nbot: Welcome, pick topics:\n     [Kazakhstan] [Economy]"
    )
    assert emulator.stats.calls["getUpdates"] >= 1


async def test_command_with_the_bot_name_reaches_the_handler_in_a_group(emulator, polling_app):
    group = emulator.add_group(-1001234, "Almaty news fans", supergroup=True)
    await polling_app(CommandHandler("start", start_command))

    assert emulator.user_sends(group, "good morning", user_id=AIDA) is None  # privacy mode
    emulator.user_sends(group, "/start@newsdigest_test_bot", user_id=AIDA)

    [welcome] = await emulator.wait_for(group)
    assert welcome.text == "Welcome, pick topics:"
    assert "[Almaty news fans] Aida: /start@newsdigest_test_bot" in emulator.transcript_text()


async def test_button_press_reaches_the_callback_handler_and_is_answered(emulator, polling_app):
    await polling_app(
        CommandHandler("start", start_command), CallbackQueryHandler(toggle_topic, "^topic:")
    )
    emulator.user_sends(AIDA, "/start")
    [welcome] = await emulator.wait_for(AIDA)

    query_id = emulator.user_presses(AIDA, welcome.message_id, welcome.button_data("Economy"))

    edited = await emulator.wait_for_edit(AIDA, welcome.message_id)
    assert edited.buttons[0][1] == ("Economy ✓", "topic:economy")
    assert edited.edits == 1
    await emulator.wait_until(lambda: emulator.answered_callbacks)
    assert emulator.answered_callbacks == [
        {"id": query_id, "text": "Saved topic:economy", "show_alert": False}
    ]
    assert emulator.transcript_text(AIDA).splitlines()[3:] == [
        "Aida pressed [Economy]",
        "bot (popup): Saved topic:economy",
        "bot (edited): Welcome, pick topics:",
        "              [Kazakhstan] [Economy ✓]",
    ]
    with pytest.raises(ValueError, match="no button"):
        emulator.user_presses(AIDA, welcome.message_id, "topic:nonsense")


async def test_callback_query_can_be_answered_once(emulator, bot):
    message = await bot.send_message(AIDA, "Pick", reply_markup=keyboard(("A", "a")))
    query_id = emulator.user_presses(AIDA, message.message_id, "a")
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    assert emulator.answered_callbacks == [{"id": query_id, "text": "Done", "show_alert": True}]


# -- strictness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markup",
    ["<p>x</p>", "a < b", "<b>unclosed", "<b><i>x</b></i>", "<br>", "&nbsp;", "<span>x</span>"],
)
async def test_html_telegram_rejects_is_a_bad_request(emulator, bot, markup):
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(AIDA, markup, parse_mode="HTML")
    assert emulator.sent(AIDA) == []


async def test_html_telegram_accepts_becomes_text_and_entities(emulator, bot):
    markup = (
        '<b>Rates</b> &amp; <a href="https://nbk.kz/?a=1&amp;b=2">NBK</a> '
        '<pre><code class="language-text">USD 470</code></pre>'
    )
    message = await bot.send_message(AIDA, markup, parse_mode="HTML")
    assert message.text == "Rates & NBK USD 470"
    [sent] = emulator.sent(AIDA)
    assert sent.entities == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 8, "length": 3, "url": "https://nbk.kz/?a=1&b=2"},
        {"type": "pre", "offset": 12, "length": 7, "language": "text"},
    ]


async def test_text_length_is_counted_after_parsing_in_utf16_units(emulator, bot):
    await bot.send_message(AIDA, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(AIDA, "x" * 5000)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(AIDA, "😀" * 2049)  # 2049 characters, 4098 UTF-16 units
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(AIDA, "<b> </b>", parse_mode="HTML")
    assert len(emulator.sent(AIDA)) == 1


async def test_callback_data_must_be_1_to_64_bytes(emulator, bot):
    await bot.send_message(AIDA, "ok", reply_markup=keyboard(("A", "й" * 32)))  # 64 bytes
    for data in ["x" * 65, "й" * 33, ""]:
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(AIDA, "too much", reply_markup=keyboard(("A", data)))
    assert len(emulator.sent(AIDA)) == 1


async def test_blocked_user_is_forbidden_until_they_unblock(emulator, bot):
    emulator.block(AIDA)
    emulator.user_sends(AIDA, "/start")  # written just before blocking, say
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(AIDA, "Your digest")
    emulator.unblock(AIDA)
    await bot.send_message(AIDA, "Welcome back")
    assert [m.text for m in emulator.sent(AIDA)] == ["Welcome back"]


async def test_unknown_chat_is_a_bad_request(emulator, bot):
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(777, "Hello?")
    assert emulator.failed_calls[-1] == {
        "method": "sendMessage",
        "chat_id": "777",
        "status": 400,
        "description": "Bad Request: chat not found",
    }


async def test_group_that_became_a_supergroup_answers_chat_migrated(emulator, bot):
    group = emulator.add_group(-555, "Fans")
    emulator.migrate_group(group, -1000555)
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(group, "Digest")
    assert raised.value.new_chat_id == -1000555
    await bot.send_message(-1000555, "Digest")


async def test_edit_with_the_same_content_is_not_modified(emulator, bot):
    plain = await bot.send_message(AIDA, "Rates")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Rates", chat_id=AIDA, message_id=plain.message_id)

    with_buttons = await bot.send_message(AIDA, "Topics", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_text("Topics", chat_id=AIDA, message_id=with_buttons.message_id)
    edited = emulator.sent(AIDA)[1]
    assert (edited.reply_markup, edited.edits) == (None, 1)  # an edit without markup drops it
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=AIDA, message_id=999)


async def test_other_methods_answer_like_telegram(emulator, bot):
    chat = await bot.get_chat(AIDA)
    assert (chat.type, chat.first_name, chat.username) == ("private", "Aida", "aida_kz")
    assert await bot.send_chat_action(AIDA, "typing")
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(AIDA, "dancing")
    message = await bot.send_message(
        AIDA, "https://nbk.kz", link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    reply = await bot.send_message(AIDA, "see above", reply_to_message_id=message.message_id)
    assert reply.reply_to_message.message_id == message.message_id
    assert await bot.delete_message(AIDA, message.message_id)
    first, second = emulator.sent(AIDA)
    assert (first.deleted, first.link_preview_disabled, second.reply_to) == (
        True,
        True,
        message.message_id,
    )


# -- flood control ------------------------------------------------------------------------------


async def test_second_quick_message_to_one_chat_gets_retry_after():
    clock = FakeClock()
    limits = {**PLENTY, "per_chat_rate": 1.0, "per_chat_burst": 1}
    with BotAPIEmulator(**limits, clock=clock) as emulator:
        emulator.add_user(AIDA, "Aida")
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            first = await bot.send_message(AIDA, "one")
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(AIDA, "two")
            assert retry_seconds(raised.value) >= 1
            with pytest.raises(RetryAfter):  # edits count too
                await bot.edit_message_text("one!", chat_id=AIDA, message_id=first.message_id)
            clock.now += 1.0
            await bot.send_message(AIDA, "two")
        assert [m.text for m in emulator.sent(AIDA)] == ["one", "two"]
        assert emulator.stats.too_many_requests == 2


async def test_global_limit_applies_across_chats():
    clock = FakeClock()
    with BotAPIEmulator(**{**PLENTY, "global_rate": 2.0, "global_burst": 2}, clock=clock) as emu:
        for user_id in (1, 2, 3):
            emu.add_user(user_id)
        async with Bot(emu.token, base_url=emu.base_url) as bot:
            await bot.send_message(1, "digest")
            await bot.send_message(2, "digest")
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(3, "digest")
            assert retry_seconds(raised.value) == 1  # half a second to the next token, rounded up
            clock.now += 0.5
            await bot.send_message(3, "digest")


async def test_group_gets_20_messages_a_minute():
    clock = FakeClock()
    with BotAPIEmulator(**PLENTY, group_per_minute=2, clock=clock) as emulator:
        group = emulator.add_group(-100, "Fans")
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            await bot.send_message(group, "one")
            await bot.send_message(group, "two")
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(group, "three")
            assert retry_seconds(raised.value) == 30
            clock.now += 28.8
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(group, "three")
            assert retry_seconds(raised.value) == 2  # 1.2 s rounded up
            clock.now += 1.2
            await bot.send_message(group, "three")


def test_429_answer_has_telegrams_shape():
    with BotAPIEmulator(**{**PLENTY, "per_chat_burst": 1, "per_chat_rate": 0.1}) as emulator:
        emulator.add_user(AIDA)
        url = f"{emulator.base_url}{emulator.token}/sendMessage"
        assert httpx.post(url, json={"chat_id": AIDA, "text": "one"}).json()["ok"] is True
        answer = httpx.post(url, json={"chat_id": AIDA, "text": "two"})
    assert answer.status_code == 429
    assert answer.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 10",
        "parameters": {"retry_after": 10},
    }


# -- fault injection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(502, NetworkError), (500, NetworkError), (429, RetryAfter), (403, Forbidden)],
)
async def test_injected_failure_raises_what_ptb_raises_for_it(emulator, bot, status, error):
    emulator.fail_next(1, status, methods=["sendMessage"])
    assert await bot.get_me()  # other methods are not affected
    with pytest.raises(error):
        await bot.send_message(AIDA, "Digest")
    await bot.send_message(AIDA, "Digest")
    assert len(emulator.sent(AIDA)) == 1
    assert emulator.stats.errors[status] == 1


async def test_dropped_connection_is_a_network_error_and_sends_nothing(emulator, bot):
    emulator.drop_next(1)
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(AIDA, "Digest")
    assert emulator.sent(AIDA) == []
    await bot.send_message(AIDA, "Digest")
    assert emulator.stats.dropped == 1


async def test_latency_delays_every_answer(emulator, bot):
    emulator.latency = 0.3
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.3


# -- photos and commands ------------------------------------------------------------------------


async def test_photo_upload_is_recorded_with_its_caption(emulator, bot):
    chart = png(640, 480)
    message = await bot.send_photo(AIDA, chart, caption="<b>USD</b> 470", parse_mode="HTML")
    assert (message.photo[-1].width, message.photo[-1].height) == (640, 480)
    assert message.caption == "USD 470"
    await bot.send_photo(AIDA, message.photo[-1].file_id)  # again, by file_id
    first, again = emulator.sent(AIDA)
    assert (first.photo, first.caption, first.text) == (chart, "USD 470", "")
    assert again.photo == chart
    assert "bot: [photo: USD 470]" in emulator.transcript_text(AIDA)
    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(AIDA, b"not an image")
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(AIDA, chart, caption="x" * 1025)


async def test_commands_are_recorded_per_language(emulator, bot):
    await bot.set_my_commands([BotCommand("start", "Subscribe"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Подписаться")], language_code="ru")
    assert emulator.commands == {
        "": [
            {"command": "start", "description": "Subscribe"},
            {"command": "help", "description": "Help"},
        ],
        "ru": [{"command": "start", "description": "Подписаться"}],
    }
    [command] = await bot.get_my_commands(language_code="ru")
    assert (command.command, command.description) == ("start", "Подписаться")
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start Now", "x")])
    assert await bot.delete_my_commands(language_code="ru")
    assert list(emulator.commands) == [""]


# -- updates: long polling, offsets, webhook ----------------------------------------------------


async def test_get_updates_waits_for_an_update_and_offset_confirms(emulator, bot):
    threading.Timer(0.2, emulator.user_sends, (AIDA, "hello")).start()
    started = time.monotonic()
    [update] = await bot.get_updates(timeout=3)
    assert 0.15 <= time.monotonic() - started < 2
    assert update.message.text == "hello" and update.message.from_user.first_name == "Aida"

    assert [u.update_id for u in await bot.get_updates()] == [update.update_id]  # unconfirmed
    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=timedelta(seconds=0.3)) == ()
    assert time.monotonic() - started >= 0.3
    assert emulator.pending_updates == 0


async def test_a_second_bot_instance_polling_ends_the_first_with_conflict(emulator, bot):
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    async with Bot(emulator.token, base_url=emulator.base_url) as second:
        await second.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_user_messages_look_like_a_telegram_client_sent_them(emulator, bot):
    group = emulator.add_group(-1009, "Fans", supergroup=True)
    emulator.user_sends(group, "/news@newsdigest_test_bot economy", user_id=AIDA)
    assert emulator.user_sends(group, "/news@other_bot economy", user_id=AIDA) is None
    emulator.user_sends(group, "thanks @newsdigest_test_bot", user_id=AIDA)
    emulator.user_sends(AIDA, "x" * 5000)  # a client splits it into two messages
    command, mention, *long_text = await bot.get_updates()
    assert command.message.entities[0].type == "bot_command"
    assert command.message.entities[0].length == len("/news@newsdigest_test_bot")
    assert mention.message.text == "thanks @newsdigest_test_bot"
    assert [len(u.message.text) for u in long_text] == [4096, 904]
    with pytest.raises(ValueError, match="user_id"):
        emulator.user_sends(group, "/start")


async def test_webhook_gets_updates_with_the_secret_header(emulator, bot, http_server):
    url = http_server.route("/hook", "")
    assert await bot.set_webhook(url, secret_token="s3cret-token")
    update_id = emulator.user_sends(AIDA, "/start")

    await emulator.wait_until(lambda: emulator.pending_updates == 0)
    [request] = http_server.requests_to("/hook")
    assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-token"
    update = Update.de_json(json.loads(request.body), bot)
    assert (update.update_id, update.message.text) == (update_id, "/start")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 0)

    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_webhook_delivery_is_retried_when_the_bot_answers_an_error(
    emulator, bot, http_server
):
    statuses = iter([500, 502, 200])
    url = http_server.handle("/hook", lambda request: (next(statuses), {}, b""))
    await bot.set_webhook(url)
    emulator.user_sends(AIDA, "/digest")

    await emulator.wait_until(lambda: emulator.pending_updates == 0)
    bodies = [json.loads(r.body) for r in http_server.requests_to("/hook")]
    assert len(bodies) == 3 and bodies[0] == bodies[2]
    assert "502" in (await bot.get_webhook_info()).last_error_message


# -- the test-facing helpers --------------------------------------------------------------------


async def test_wait_for_hands_out_each_message_once_and_reports_a_timeout(emulator, bot):
    for text in ("one", "two", "three"):
        await bot.send_message(AIDA, text)
    assert [m.text for m in await emulator.wait_for(AIDA, 2)] == ["one", "two"]
    assert [m.text for m in await emulator.wait_for(AIDA)] == ["three"]
    with pytest.raises(BadRequest):
        await bot.send_message(AIDA, "<p>four</p>", parse_mode="HTML")
    with pytest.raises(TimeoutError, match=r"got 0: \[\].*can't parse entities"):
        await emulator.wait_for(AIDA, timeout=0.1)


def test_wait_for_sync_blocks_until_the_bot_sends():
    with BotAPIEmulator() as emulator:
        emulator.add_user(AIDA, "Aida")
        url = f"{emulator.base_url}{emulator.token}/sendMessage"
        form = {"chat_id": str(AIDA), "text": "<i>hi</i>", "parse_mode": "HTML"}
        threading.Timer(0.1, httpx.post, (url,), {"data": form}).start()
        [message] = emulator.wait_for_sync(AIDA, timeout=3)
        assert (message.text, message.parse_mode) == ("hi", "HTML")
        with pytest.raises(TimeoutError):
            emulator.wait_for_sync(AIDA, timeout=0.05)

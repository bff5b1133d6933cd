"""The bot end to end: the real python-telegram-bot Application over HTTP to the local emulator."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.app import build_application, start_bot, stop_bot
from bot.emulator import BotAPIEmulator
from bot.telegram_html import parse_html
from digest.config import load_config
from digest.demo_data import load_sample
from storage.db import open_db
from storage.subscribers import get_subscriber

ADMIN = 900
AIDA = 101  # English
BOLAT = 102  # Russian Telegram client
GROUP = -5001


@dataclasses.dataclass
class Env:
    emulator: BotAPIEmulator
    db: object
    application: object

    def say(self, chat: int, text: str, user: int | None = None) -> None:
        self.emulator.user_sends(chat, text, user_id=user)

    async def answer(self, chat: int, text: str, count: int = 1, user: int | None = None):
        self.say(chat, text, user)
        return await self.emulator.wait_for(chat, count, timeout=10)


def make_config(**digest_changes):
    config = load_config(env={})
    bot = dataclasses.replace(config.bot, admins=(ADMIN,))
    digest = dataclasses.replace(config.digest, **digest_changes)
    return dataclasses.replace(config, bot=bot, digest=digest)


@pytest.fixture
async def env(tmp_path):
    emulator = BotAPIEmulator(
        global_rate=1000,
        global_burst=1000,
        per_chat_rate=1000,
        per_chat_burst=1000,
        group_per_minute=10000,
    ).start()
    config = make_config(window_hours=72, per_topic=10)
    db = open_db(tmp_path / "bot.db")
    load_sample(db, config, datetime.now(UTC))
    emulator.add_user(AIDA, "Aida", language_code="en")
    emulator.add_user(BOLAT, "Bolat", language_code="ru")
    emulator.add_user(ADMIN, "Operator", language_code="en")
    emulator.add_group(GROUP, "Newsroom")
    application = build_application(
        config,
        db,
        emulator.token,
        api_url=emulator.base_url.removesuffix("/bot"),
        rate_limiter=False,
    )
    await start_bot(application, poll_timeout=1)
    try:
        yield Env(emulator, db, application)
    finally:
        await stop_bot(application)
        emulator.stop()


def buttons(message) -> list[str]:
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def data_of(message, text: str) -> str:
    markup = message.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        for b in row:
            if b["text"] == text:
                return b["callback_data"]
    raise AssertionError(f"no button {text!r} in {buttons(message)}")


async def test_start_subscribes_and_onboards_with_buttons(env):
    [welcome] = await env.answer(AIDA, "/start")
    assert "Welcome to Central Asia digest" in welcome.text
    assert "Topics: Central Asia, Economy and finance" in welcome.text
    assert "every day at 08:00 (Asia/Almaty)" in welcome.text
    assert buttons(welcome) == ["Topics", "Delivery time", "Time zone", "Digest now"]
    subscriber = get_subscriber(env.db, AIDA)
    assert subscriber.active and subscriber.language == "en"
    # The command menu is registered in both languages.
    assert [c["command"] for c in env.emulator.commands_for({"type": "default"})][:3] == [
        "start",
        "digest",
        "news",
    ]
    assert env.emulator.commands_for({"type": "default"}, "ru")[0]["description"] == (
        "Подписаться и настроить"
    )


async def test_russian_client_is_answered_in_russian(env):
    [welcome] = await env.answer(BOLAT, "/start")
    assert "Добро пожаловать" in welcome.text
    assert "Темы: Центральная Азия, Экономика и финансы" in welcome.text
    assert get_subscriber(env.db, BOLAT).language == "ru"


async def test_stop_keeps_settings_and_start_brings_them_back(env):
    await env.answer(AIDA, "/start")
    await env.answer(AIDA, "/time 06:45")
    [bye] = await env.answer(AIDA, "/stop")
    assert "Unsubscribed" in bye.text
    assert not get_subscriber(env.db, AIDA).active
    [back] = await env.answer(AIDA, "/start")
    assert "Welcome back" in back.text and "06:45" in back.text
    assert get_subscriber(env.db, AIDA).active


async def test_rates_block_and_one_currency_with_its_chart(env):
    [block] = await env.answer(AIDA, "/rates")
    for code in ("KZT", "KGS", "UZS", "TJS", "TMT"):
        assert f"{code}/USD" in block.text
    assert "1 USD = " in block.text
    [chart] = await env.answer(AIDA, "/rates kzt")
    assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
    assert "KZT/USD" in chart.caption
    [unknown] = await env.answer(AIDA, "/rates XYZ")
    assert "I have no rate for “XYZ”" in unknown.text


async def test_topics_buttons_toggle_and_are_saved(env):
    await env.answer(AIDA, "/start")
    [menu] = await env.answer(AIDA, "/topics")
    assert "✓ Central Asia" in buttons(menu) and "Energy" in buttons(menu)
    env.emulator.user_presses(AIDA, menu.message_id, data_of(menu, "Energy"))
    edited = await env.emulator.wait_for_edit(AIDA, menu.message_id, edits=1)
    assert "✓ Energy" in buttons(edited)
    assert "energy" in get_subscriber(env.db, AIDA).topics
    env.emulator.user_presses(AIDA, menu.message_id, data_of(edited, "✓ Central Asia"))
    edited = await env.emulator.wait_for_edit(AIDA, menu.message_id, edits=2)
    assert "Central Asia" in buttons(edited)
    assert get_subscriber(env.db, AIDA).topics == ["economy", "energy"]
    assert len(env.emulator.answered_callbacks) == 2  # every press answered: the spinner stops


async def test_news_on_a_topic_with_buttons_when_none_or_unknown(env):
    [headlines] = await env.answer(AIDA, "/news energy")
    assert headlines.text.startswith("Latest: Energy")
    assert headlines.text.count("•") >= 2
    links = [e for e in headlines.entities if e["type"] == "text_link"]
    assert len(links) == headlines.text.count("•")  # every headline links to its story
    [choice] = await env.answer(AIDA, "/news nonsense")
    assert "I don't know the topic “nonsense”" in choice.text
    env.emulator.user_presses(AIDA, choice.message_id, data_of(choice, "Migration"))
    [picked] = await env.emulator.wait_for(AIDA, 1, timeout=5)
    assert picked.text.startswith("Latest: Migration")


async def test_digest_now_is_split_into_valid_messages(env):
    await env.answer(AIDA, "/start")
    [menu] = await env.answer(AIDA, "/topics")
    for topic in ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Uzbekistan", "Energy"):
        env.emulator.user_presses(AIDA, menu.message_id, f"t:{topic.lower()}")
    await env.emulator.wait_until(lambda: len(get_subscriber(env.db, AIDA).topics) == 7, timeout=5)
    env.say(AIDA, "/digest")
    messages = await env.emulator.wait_for(AIDA, 2, timeout=10)
    assert messages[0].text.startswith("Central Asia digest")
    for message in messages:
        text, _ = parse_html(message.html)
        assert len(text) <= 4096


async def test_time_and_timezone_take_values_or_buttons(env):
    await env.answer(AIDA, "/start")
    [bad] = await env.answer(AIDA, "/time 25:99")
    assert "“25:99” is not a time" in bad.text and "08:00" in buttons(bad)
    [ok] = await env.answer(AIDA, "/time 7:30")
    assert "every day at 07:30" in ok.text
    env.emulator.user_presses(AIDA, bad.message_id, data_of(bad, "21:00"))
    await env.emulator.wait_for(AIDA, 1, timeout=5)
    assert get_subscriber(env.db, AIDA).delivery_time == "21:00"

    [zones] = await env.answer(AIDA, "/timezone")
    assert "Asia/Tashkent" in buttons(zones)
    [wrong] = await env.answer(AIDA, "/timezone Mars/Base")
    assert "I don't know the time zone “Mars/Base”" in wrong.text
    [city] = await env.answer(AIDA, "/timezone bishkek")
    assert "Asia/Bishkek" in city.text
    env.emulator.user_presses(AIDA, zones.message_id, data_of(zones, "Asia/Dushanbe"))
    await env.emulator.wait_for(AIDA, 1, timeout=5)
    assert get_subscriber(env.db, AIDA).timezone == "Asia/Dushanbe"


async def test_search_and_settings(env):
    [found] = await env.answer(AIDA, "/search Rogun")
    assert "Rogun" in found.text
    [usage] = await env.answer(AIDA, "/search")
    assert "What should I look for?" in usage.text
    [none] = await env.answer(AIDA, "/settings")
    assert "not subscribed yet" in none.text
    await env.answer(AIDA, "/start")
    [settings] = await env.answer(AIDA, "/settings")
    assert "Your settings" in settings.text and "Language: English" in settings.text


async def test_language_switch_changes_every_later_answer(env):
    await env.answer(AIDA, "/start")
    [choice] = await env.answer(AIDA, "/language")
    env.emulator.user_presses(AIDA, choice.message_id, data_of(choice, "Русский"))
    [done] = await env.emulator.wait_for(AIDA, 1, timeout=5)
    assert "по-русски" in done.text
    [help_ru] = await env.answer(AIDA, "/help")
    assert "Что я умею" in help_ru.text
    [rates_ru] = await env.answer(AIDA, "/rates")
    assert rates_ru.text.startswith("Курсы")


async def test_admin_commands_only_for_the_operator(env):
    [stats] = await env.answer(ADMIN, "/stats")
    assert "Subscribers:" in stats.text and "Articles stored:" in stats.text
    [feeds] = await env.answer(ADMIN, "/feeds")
    assert "The Astana Times" in feeds.text
    [help_admin] = await env.answer(ADMIN, "/help")
    assert "/stats" in help_admin.text
    [denied] = await env.answer(AIDA, "/stats")
    assert "What I can do" in denied.text and "Subscribers" not in denied.text
    assert "/stats" not in denied.text


async def test_unknown_commands_and_odd_messages_get_short_answers(env):
    [unknown] = await env.answer(AIDA, "/frobnicate")
    assert "I don't know /frobnicate" in unknown.text
    # A client sends 5,000 characters as two messages (4,096 + 904): each gets the short answer.
    replies = await env.answer(AIDA, "x" * 5000, count=2)
    assert all("long message" in r.text for r in replies)
    [plain] = await env.answer(AIDA, "hello?")
    assert plain.text == "I understand commands; /help lists them. Try /news or /rates."


async def test_a_crashing_handler_apologises_and_the_bot_keeps_going(env, monkeypatch):
    import bot.handlers

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(bot.handlers, "search_articles", broken)
    [sorry] = await env.answer(AIDA, "/search Rogun")
    assert sorry.text.startswith("Sorry, something went wrong")
    [still] = await env.answer(AIDA, "/help")
    assert "What I can do" in still.text


async def test_group_chat_subscribes_once_and_answers_addressed_commands(env):
    bot_name = env.emulator.bot_username
    [welcome] = await env.answer(GROUP, f"/start@{bot_name}", user=AIDA)
    assert "Welcome to Central Asia digest" in welcome.text
    assert get_subscriber(env.db, GROUP) is not None
    env.say(GROUP, "/start@some_other_bot", user=BOLAT)
    env.say(GROUP, f"/help@{bot_name}", user=BOLAT)
    [reply] = await env.emulator.wait_for(GROUP, 1, timeout=5)
    assert "What I can do" in reply.text  # the other bot's command was not answered


async def test_a_user_who_blocked_the_bot_does_not_stop_it(env):
    await env.answer(AIDA, "/start")
    env.emulator.block(AIDA)
    env.say(AIDA, "/rates")
    [other] = await env.answer(BOLAT, "/help")
    assert "Что я умею" in other.text
    await env.emulator.wait_until(lambda: not get_subscriber(env.db, AIDA).active, timeout=5)
    assert len(env.emulator.sent(AIDA)) == 1  # only the welcome from before the block

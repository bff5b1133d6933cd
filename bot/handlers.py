"""Telegram handlers: parse the command, call digest/ and storage/, reply. One function a command."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import Services
from bot.delivery import render_digest
from bot.i18n import Translate, presentation, translator
from digest import subscriptions as subs
from digest.chart import ChartError
from digest.rates import chart_png, rate_lines
from digest.render import Presentation, esc, render_headlines, render_rates_html
from storage.articles import count_articles, recent_articles, search_articles
from storage.deliveries import last_sent_at
from storage.feeds import feed_states
from storage.records import Subscriber
from storage.subscribers import count_subscribers, get_subscriber

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MAX_INPUT = 500  # longer messages are not commands anyone typed on purpose
NEWS_DAYS = 3
NEWS_COUNT = 5
CHART_DAYS = 30
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


# ---- helpers -------------------------------------------------------------------------------


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def chat_id_of(update: Update) -> int:
    return update.effective_chat.id


def subscriber_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Subscriber | None:
    return get_subscriber(services(context).db, chat_id_of(update))


def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The chat's chosen language, else the user's Telegram language, else the default."""
    subscriber = subscriber_of(update, context)
    if subscriber is not None:
        return subscriber.language
    user = update.effective_user
    default = services(context).config.bot.default_language
    return subs.pick_language(user.language_code if user else None, default)


def style_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Presentation:
    subscriber = subscriber_of(update, context)
    timezone = subscriber.timezone if subscriber else services(context).config.bot.default_timezone
    return presentation(language_of(update, context), timezone)


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    """Answer in the same chat, as HTML without link previews."""
    return await update.effective_chat.send_message(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


def args_text(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or []).strip()


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """An operator's own chat: a listed chat id, or a listed user in a private chat with the bot.

    A listed user typing /stats in a group gets the normal help: the figures stay private.
    """
    admins = services(context).config.bot.admins
    user = update.effective_user
    if chat_id_of(update) in admins:
        return True
    return update.effective_chat.type == "private" and user is not None and user.id in admins


def rows(buttons: list[InlineKeyboardButton], width: int = 2) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


def topic_names(keys: list[str], svc: Services, language: str) -> str:
    labels = [t.label_for(language) for k in keys if (t := svc.config.topic(k))]
    return ", ".join(labels) if labels else "—"


# ---- keyboards -----------------------------------------------------------------------------


def menu_keyboard(_: Translate) -> InlineKeyboardMarkup:
    return rows(
        [
            InlineKeyboardButton(_("Topics"), callback_data="m:topics"),
            InlineKeyboardButton(_("Delivery time"), callback_data="m:time"),
            InlineKeyboardButton(_("Time zone"), callback_data="m:tz"),
            InlineKeyboardButton(_("Digest now"), callback_data="m:digest"),
        ]
    )


def topics_keyboard(svc: Services, selected: list[str], language: str) -> InlineKeyboardMarkup:
    _ = translator(language)
    buttons = [
        InlineKeyboardButton(
            ("✓ " if t.key in selected else "") + t.label_for(language), callback_data=f"t:{t.key}"
        )
        for t in svc.config.topics
    ]
    markup = rows(buttons)
    return InlineKeyboardMarkup(
        [*markup.inline_keyboard, [InlineKeyboardButton(_("Done"), callback_data="t-done")]]
    )


def news_keyboard(svc: Services, language: str) -> InlineKeyboardMarkup:
    return rows(
        [
            InlineKeyboardButton(t.label_for(language), callback_data=f"n:{t.key}")
            for t in svc.config.topics
        ]
    )


def time_keyboard() -> InlineKeyboardMarkup:
    return rows(
        [InlineKeyboardButton(t, callback_data=f"tm:{t}") for t in subs.TIME_CHOICES], width=4
    )


def zone_keyboard() -> InlineKeyboardMarkup:
    return rows([InlineKeyboardButton(z, callback_data=f"tz:{z}") for z in subs.REGION_ZONES])


def language_keyboard() -> InlineKeyboardMarkup:
    return rows(
        [
            InlineKeyboardButton(name, callback_data=f"lg:{code}")
            for code, name in LANGUAGE_NAMES.items()
        ]
    )


# ---- texts ---------------------------------------------------------------------------------


def settings_text(svc: Services, subscriber: Subscriber) -> str:
    _ = translator(subscriber.language)
    status = _("subscribed") if subscriber.active else _("paused (send /start to resume)")
    return "\n".join(
        [
            "<b>" + esc(_("Your settings")) + "</b>",
            esc(_("Topics: {topics}")).format(
                topics=esc(topic_names(subscriber.topics, svc, subscriber.language))
            ),
            esc(_("Delivery: every day at {time} ({zone})")).format(
                time=subscriber.delivery_time, zone=esc(subscriber.timezone)
            ),
            esc(_("Language: {language}")).format(
                language=LANGUAGE_NAMES.get(subscriber.language, subscriber.language)
            ),
            esc(_("Status: {status}")).format(status=esc(status)),
        ]
    )


def help_text(_: Translate, admin: bool) -> str:
    lines = [
        "<b>" + esc(_("What I can do")) + "</b>",
        "/start — " + esc(_("subscribe to the daily digest and set it up")),
        "/digest — " + esc(_("the digest now")),
        "/news " + esc(_("TOPIC")) + " — " + esc(_("latest headlines on a topic")),
        "/rates " + esc(_("[CODE]")) + " — " + esc(_("currency rates; with a code, its chart")),
        "/topics — " + esc(_("choose your topics")),
        "/time " + esc(_("HH:MM")) + " — " + esc(_("when the daily digest arrives")),
        "/timezone — " + esc(_("your time zone")),
        "/search " + esc(_("WORDS")) + " — " + esc(_("search stored articles")),
        "/settings — " + esc(_("what is set")),
        "/language — " + esc(_("English or Russian")),
        "/stop — " + esc(_("unsubscribe (your settings are kept)")),
    ]
    if admin:
        lines += ["", "<b>" + esc(_("Admin")) + "</b>", "/stats", "/feeds"]
    return "\n".join(lines)


# ---- prompts used by commands and buttons alike ---------------------------------------------


async def ask_to_subscribe(update: Update, _: Translate) -> None:
    await reply(update, esc(_("You are not subscribed yet. Send /start to subscribe.")))


async def ask_time(update: Update, _: Translate) -> None:
    text = _("When should the daily digest arrive? Or type /time HH:MM.")
    await reply(update, esc(text), time_keyboard())


async def ask_zone(update: Update, _: Translate) -> None:
    text = _("Pick your time zone, or type one, e.g. /timezone Asia/Tashkent.")
    await reply(update, esc(text), zone_keyboard())


async def ask_topics(update: Update, svc: Services, subscriber: Subscriber) -> None:
    _ = translator(subscriber.language)
    await reply(
        update,
        esc(_("Tap a topic to switch it on or off.")),
        topics_keyboard(svc, subscriber.topics, subscriber.language),
    )


# ---- commands ------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe the chat and show what it will get, with buttons to change it."""
    svc = services(context)
    user = update.effective_user
    subscriber, created = subs.subscribe(
        svc.db, svc.config, chat_id_of(update), user.language_code if user else None, svc.now()
    )
    _ = translator(subscriber.language)
    if created:
        intro = _(
            "Welcome to {title}! Every day at the time you choose I send a short digest of the "
            "news on your topics, with currency rates on top."
        )
    else:
        intro = _("Welcome back, {title} is on again with your earlier settings.")
    text = "\n\n".join(
        [
            esc(intro.format(title=svc.config.digest.title_for(subscriber.language))),
            settings_text(svc, subscriber),
            esc(_("Change them with the buttons below; /help lists every command.")),
        ]
    )
    await reply(update, text, menu_keyboard(_))


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unsubscribe; the settings stay for a later /start."""
    svc = services(context)
    _ = translator(language_of(update, context))
    if subs.unsubscribe(svc.db, chat_id_of(update)):
        await reply(
            update, esc(_("Unsubscribed. Your settings are kept: send /start to come back."))
        )
    else:
        await reply(update, esc(_("You are not subscribed. Send /start to subscribe.")))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The list of commands (admin commands only for the operator's chats)."""
    _ = translator(language_of(update, context))
    await reply(update, help_text(_, is_admin(update, context)))


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What is set for this chat."""
    svc = services(context)
    subscriber = subscriber_of(update, context)
    if subscriber is None:
        _ = translator(language_of(update, context))
        await ask_to_subscribe(update, _)
        return
    await reply(
        update, settings_text(svc, subscriber), menu_keyboard(translator(subscriber.language))
    )


async def rates(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The rates block, or with a currency code its line and a chart of the last 30 days."""
    svc = services(context)
    style = style_of(update, context)
    _ = style.gettext
    today = svc.now().astimezone(style.tz).date()
    chains = svc.config.rates.chains
    code = args_text(context).upper()
    if not code:
        lines = rate_lines(
            svc.db, svc.config.rates.currencies, svc.config.rates.base, today, chains
        )
        await reply(update, render_rates_html(lines, style))
        return
    lines = rate_lines(svc.db, [code], svc.config.rates.base, today, chains)
    if not lines:
        known = ", ".join(svc.config.rates.currencies)
        await reply(
            update,
            esc(_("I have no rate for “{code}”. Try one of: {known}.")).format(
                code=esc(code[:10]), known=known
            ),
        )
        return
    block = render_rates_html(lines, style)
    # Drawing takes ~100 ms on the event loop; the picture only changes with a new rate.
    line = lines[0]
    key = (code, today, line.source, line.as_of, line.value)
    try:
        png = svc.charts.get(key) or chart_png(
            svc.db, code, svc.config.rates.base, CHART_DAYS, today, chains
        )
        svc.charts[key] = png
    except ChartError:
        note = _("Not enough history yet for a chart.")
        await reply(update, f"{block}\n<i>{esc(note)}</i>")
        return
    await update.effective_chat.send_action(ChatAction.UPLOAD_PHOTO)
    await update.effective_chat.send_photo(png, caption=block, parse_mode=ParseMode.HTML)


async def news(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Latest headlines on one topic; buttons to pick one when none or an unknown one is given."""
    svc = services(context)
    language = language_of(update, context)
    _ = translator(language)
    wanted = args_text(context)
    key = subs.find_topic(svc.config, wanted) if wanted else None
    if key is None:
        text = _("Which topic?") if not wanted else _("I don't know the topic “{topic}”. Pick one:")
        await reply(update, esc(text).format(topic=esc(wanted[:40])), news_keyboard(svc, language))
        return
    await send_news(update, context, key)


async def send_news(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str) -> None:
    svc = services(context)
    style = style_of(update, context)
    _ = style.gettext
    topic = svc.config.topic(key)
    now = svc.now()
    found = recent_articles(
        svc.db, now - timedelta(days=NEWS_DAYS), now, topics=[key], limit=NEWS_COUNT
    )
    label = topic.label_for(style.language)
    if not found:
        await reply(
            update,
            esc(_("No news on {topic} in the last {days} days.")).format(
                topic=esc(label), days=NEWS_DAYS
            ),
        )
        return
    await reply(update, render_headlines(_("Latest: {topic}").format(topic=label), found, style))


async def digest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The digest of the last day on the chat's topics, now."""
    svc = services(context)
    subscriber = subscriber_of(update, context)
    style = style_of(update, context)
    if subscriber is not None and not subscriber.topics:
        _ = style.gettext
        await reply(update, esc(_("You have switched off every topic: pick some with /topics.")))
        return
    topics = subscriber.topics if subscriber else list(svc.config.bot.default_topics) or None
    timezone = subscriber.timezone if subscriber else svc.config.bot.default_timezone
    await update.effective_chat.send_action(ChatAction.TYPING)
    for message in render_digest(svc.db, svc.config, topics, style.language, timezone, svc.now()):
        await reply(update, message)


async def time_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set the daily delivery time: /time 08:30, or buttons."""
    svc = services(context)
    _ = translator(language_of(update, context))
    if subscriber_of(update, context) is None:
        await ask_to_subscribe(update, _)
        return
    text = args_text(context)
    if not text:
        await ask_time(update, _)
        return
    try:
        value = subs.parse_time(text)
    except subs.BadTime:
        await reply(
            update,
            esc(_("“{text}” is not a time. Use HH:MM, e.g. /time 07:30.")).format(
                text=esc(text[:20])
            ),
            time_keyboard(),
        )
        return
    await confirm_time(update, context, value, svc)


async def confirm_time(update: Update, context, value: str, svc: Services) -> None:
    subscriber = subs.update(svc.db, chat_id_of(update), delivery_time=value)
    _ = translator(subscriber.language)
    await reply(
        update,
        esc(_("Done: the digest will arrive every day at {time} ({zone}).")).format(
            time=value, zone=esc(subscriber.timezone)
        ),
    )


async def timezone_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set the time zone: /timezone Asia/Tashkent, a city, or buttons for the region."""
    svc = services(context)
    _ = translator(language_of(update, context))
    if subscriber_of(update, context) is None:
        await ask_to_subscribe(update, _)
        return
    text = args_text(context)
    if not text:
        await ask_zone(update, _)
        return
    try:
        zone = subs.parse_timezone(text)
    except subs.BadTimezone:
        await reply(
            update,
            esc(
                _("I don't know the time zone “{text}”. Pick one or type a name like Asia/Almaty.")
            ).format(text=esc(text[:40])),
            zone_keyboard(),
        )
        return
    await confirm_zone(update, context, zone, svc)


async def confirm_zone(update: Update, context, zone: str, svc: Services) -> None:
    subscriber = subs.update(svc.db, chat_id_of(update), timezone=zone)
    _ = translator(subscriber.language)
    await reply(
        update,
        esc(_("Done: your time zone is {zone}; the digest comes at {time} there.")).format(
            zone=esc(zone), time=subscriber.delivery_time
        ),
    )


async def topics_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Buttons to switch topics on and off."""
    svc = services(context)
    subscriber = subscriber_of(update, context)
    if subscriber is None:
        _ = translator(language_of(update, context))
        await ask_to_subscribe(update, _)
        return
    await ask_topics(update, svc, subscriber)


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Full-text search of stored articles."""
    svc = services(context)
    style = style_of(update, context)
    _ = style.gettext
    words = args_text(context)[:200]
    if not words:
        await reply(update, esc(_("What should I look for? E.g. /search Rogun dam")))
        return
    found = search_articles(svc.db, words, limit=NEWS_COUNT)
    if not found:
        await reply(update, esc(_("Nothing found for “{words}”.")).format(words=esc(words)))
        return
    await reply(
        update, render_headlines(_("Found for “{words}”").format(words=words), found, style)
    )


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Switch the interface language: /language ru, or buttons."""
    svc = services(context)
    code = args_text(context).lower()
    if code in subs.LANGUAGES and subscriber_of(update, context) is not None:
        await confirm_language(update, context, code, svc)
        return
    _ = translator(language_of(update, context))
    await reply(update, esc(_("Choose the language:")), language_keyboard())


async def confirm_language(update: Update, context, code: str, svc: Services) -> None:
    subscriber = subs.update(svc.db, chat_id_of(update), language=code)
    _ = translator(subscriber.language)
    await reply(update, esc(_("Done: I will speak English with you.")))


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Operator only: subscribers, articles, feed health."""
    if not is_admin(update, context):
        await help_command(update, context)
        return
    svc = services(context)
    states = feed_states(svc.db)
    failing = sum(1 for s in states.values() if s.failures)
    lines = [
        "<b>Stats</b>",
        f"Subscribers: {count_subscribers(svc.db)} active, {count_subscribers(svc.db, False)} in all",
        f"Articles stored: {count_articles(svc.db)}",
        f"Feeds: {len(svc.config.feeds)} configured, {failing} failing",
        "Last delivery: "
        + (f"{last:%Y-%m-%d %H:%M} UTC" if (last := last_sent_at(svc.db)) else "none yet"),
    ]
    await reply(update, "\n".join(lines))


async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Operator only: each feed's state."""
    if not is_admin(update, context):
        await help_command(update, context)
        return
    svc = services(context)
    states = feed_states(svc.db)
    lines = ["<b>Feeds</b>"]
    for feed in svc.config.feeds:
        state = states.get(feed.url)
        if state is None:
            lines.append(f"• {esc(feed.name)}: never fetched")
        elif state.last_error:
            lines.append(f"• {esc(feed.name)}: ⚠ {esc(state.last_error[:200])}")
        else:
            lines.append(
                f"• {esc(feed.name)}: {esc(state.last_status)}, {state.articles_total} articles"
            )
    await reply(update, "\n".join(lines))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any command the bot does not have."""
    _ = translator(language_of(update, context))
    command = (update.effective_message.text or "").split()[0][:40]
    await reply(
        update,
        esc(_("I don't know {command}. /help lists what I can do.")).format(command=esc(command)),
    )


async def plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text that is not a command: point to the commands (only in private chats)."""
    if update.effective_chat.type != "private":
        return
    _ = translator(language_of(update, context))
    text = update.effective_message.text or ""
    if len(text) > MAX_INPUT:
        await reply(
            update, esc(_("That is a long message! I only understand commands; /help lists them."))
        )
    else:
        await reply(update, esc(_("I understand commands; /help lists them. Try /news or /rates.")))


# ---- buttons -------------------------------------------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every inline button: the prefix of its data says what it does."""
    query = update.callback_query
    svc = services(context)
    data = query.data or ""
    kind, _sep, value = data.partition(":")
    subscriber = subscriber_of(update, context)
    _ = translator(language_of(update, context))
    needs_subscription = kind in ("t", "tm", "tz", "m", "lg") or data == "t-done"
    if needs_subscription and subscriber is None:
        await query.answer(_("Send /start first."), show_alert=True)
        return
    if kind == "t" and svc.config.topic(value):
        subscriber = subs.toggle_topic(svc.db, svc.config, chat_id_of(update), value)
        await query.answer()
        try:
            await query.edit_message_reply_markup(
                topics_keyboard(svc, subscriber.topics, subscriber.language)
            )
        except BadRequest as exc:  # a double tap: the keyboard is already as it should be
            log.debug("keyboard not changed: %s", exc)
    elif data == "t-done":
        await query.answer()
        try:
            await query.edit_message_text(
                esc(_("Your topics: {topics}")).format(
                    topics=esc(topic_names(subscriber.topics, svc, subscriber.language))
                ),
                parse_mode=ParseMode.HTML,
            )
        except BadRequest as exc:  # a double tap: the message already says so
            log.debug("message not changed: %s", exc)
    elif kind == "n" and svc.config.topic(value):
        await query.answer()
        await send_news(update, context, value)
    elif kind == "tm":
        await query.answer()
        await confirm_time(update, context, subs.parse_time(value), svc)
    elif kind == "tz":
        await query.answer()
        await confirm_zone(update, context, subs.parse_timezone(value), svc)
    elif kind == "lg" and value in subs.LANGUAGES:
        await query.answer()
        await confirm_language(update, context, value, svc)
    elif data == "m:topics":
        await query.answer()
        await ask_topics(update, svc, subscriber)
    elif data == "m:time":
        await query.answer()
        await ask_time(update, _)
    elif data == "m:tz":
        await query.answer()
        await ask_zone(update, _)
    elif data == "m:digest":
        await query.answer()
        await digest_now(update, context)
    else:
        await query.answer(_("This button is out of date."))


# ---- errors --------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the exception and apologise to the user; the bot keeps running."""
    if (
        isinstance(context.error, Forbidden)
        and isinstance(update, Update)
        and update.effective_chat
    ):
        # Blocked, or removed from the group: nobody to apologise to, and no more digests.
        log.info("chat %s is closed to the bot (%s)", update.effective_chat.id, context.error)
        subs.unsubscribe(services(context).db, update.effective_chat.id)
        return
    log.error("handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        _ = translator(language_of(update, context))
        try:
            await update.effective_chat.send_message(
                _("Sorry, something went wrong on my side. Please try again in a minute.")
            )
        except TelegramError:
            log.warning("could not send the apology either")


def register(application: Application) -> None:
    """Every handler, in one visible block."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("stop", stop))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("settings", settings))
    application.add_handler(CommandHandler("rates", rates))
    application.add_handler(CommandHandler("news", news))
    application.add_handler(CommandHandler("digest", digest_now))
    application.add_handler(CommandHandler("time", time_command))
    application.add_handler(CommandHandler("timezone", timezone_command))
    application.add_handler(CommandHandler("topics", topics_command))
    application.add_handler(CommandHandler("search", search))
    application.add_handler(CommandHandler("language", language_command))
    application.add_handler(CommandHandler("stats", stats))
    application.add_handler(CommandHandler("feeds", feeds))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, plain_text))
    application.add_error_handler(on_error)

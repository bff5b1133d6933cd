"""Building the python-telegram-bot Application: services, handlers, command menus."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database
from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder

from bot.i18n import translator
from bot.ratelimit import PacingRateLimiter
from digest.config import Config

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
DEFAULT_API_URL = "https://api.telegram.org"


class TokenError(ValueError):
    """The bot token is missing or is not shaped like one; worded for the operator."""


def check_token(token: str | None, *, strict: bool = True) -> str:
    """The token, or TokenError with one sentence saying what is wrong (never the token itself)."""
    if not token:
        raise TokenError("no bot token: set TELEGRAM_BOT_TOKEN to the token @BotFather gave you")
    token = token.strip()
    if strict and not _TOKEN.match(token):
        raise TokenError(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters "
            "and digits, e.g. 123456789:AAE...)"
        )
    return token


class LRU(OrderedDict):
    """A dict that keeps only the `size` most recently stored entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class Services:
    """What handlers and jobs need, made once: config, the database, a clock, a stop signal."""

    config: Config
    db: Database
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Rendered rate charts by (currency, day, source, as-of, value): a new rate makes a new key.
    charts: dict[tuple, bytes] = field(default_factory=lambda: LRU(64))


def N_(message: str) -> str:
    """Marks a message for the catalogs where it is defined; it is translated where it is shown."""
    return message


# Command -> English description; the menu is registered per language through the catalogs.
COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Subscribe and set up")),
    ("digest", N_("The digest now")),
    ("news", N_("Latest headlines on a topic")),
    ("rates", N_("Currency rates, or one currency with a chart")),
    ("topics", N_("Choose your topics")),
    ("time", N_("Daily delivery time")),
    ("timezone", N_("Your time zone")),
    ("search", N_("Search stored articles")),
    ("settings", N_("What is set")),
    ("language", N_("Interface language")),
    ("stop", N_("Unsubscribe")),
    ("help", N_("What I can do")),
]


async def register_commands(application: Application) -> None:
    """setMyCommands for the default menu and for each interface language."""
    for language in ("en", "ru"):
        _ = translator(language)
        commands = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await application.bot.set_my_commands(
            commands, language_code=None if language == "en" else language
        )


def rate_limiter_for(config: Config) -> PacingRateLimiter:
    """One limiter for every call the bot makes: replies and the daily broadcast share the budget."""
    settings = config.delivery
    return PacingRateLimiter(
        global_rate=settings.global_rate,
        per_chat_interval=settings.per_chat_interval,
        group_per_minute=settings.group_per_minute,
    )


def api_root(config: Config, api_url: str | None = None) -> str:
    return (api_url or config.bot.api_url or DEFAULT_API_URL).rstrip("/")


def build_application(
    config: Config,
    db: Database,
    token: str,
    *,
    api_url: str | None = None,
    now: Callable[[], datetime] | None = None,
    rate_limiter: bool = True,
    jobs: bool = False,
    handle_signals: bool = False,
) -> Application:
    """The Application with every handler registered, talking to `api_url` (Telegram by default).

    `jobs` schedules delivery, feeds, rates and pruning; `handle_signals` makes SIGTERM and
    SIGINT finish the message in flight, record it and stop (for `newsdigest run`).
    """
    from bot.handlers import register

    root = api_root(config, api_url)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .post_init(_on_start_with_signals if handle_signals else register_commands)
    )
    if rate_limiter:
        builder = builder.rate_limiter(rate_limiter_for(config))
    application = builder.build()
    application.bot_data["services"] = Services(config, db, now or (lambda: datetime.now(UTC)))
    register(application)
    if jobs:
        from bot.jobs import schedule_jobs

        schedule_jobs(application)
    return application


async def _on_start_with_signals(application: Application) -> None:
    services: Services = application.bot_data["services"]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stopping: finishing the message in flight")
        services.stopping.set()
        limiter = application.bot.rate_limiter
        if isinstance(limiter, PacingRateLimiter):
            limiter.stop_waiting()  # messages still waiting for their turn are not sent
        application.stop_running()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    await register_commands(application)  # after the handlers: a SIGTERM now also stops cleanly


async def start_bot(application: Application, *, poll_timeout: int = 10) -> None:
    """Start without blocking (tests, the demo): what run_polling does before it waits."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    await application.updater.start_polling(
        poll_interval=0.0, timeout=poll_timeout, drop_pending_updates=False
    )


async def stop_bot(application: Application) -> None:
    """Stop what start_bot started, in reverse order."""
    if application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()

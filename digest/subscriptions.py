"""What a subscriber can change, checked: topics, delivery time, time zone, language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlite_utils import Database

from digest.config import Config
from storage.records import Subscriber
from storage.subscribers import get_subscriber, save_subscriber, set_active

# Offered as buttons; any IANA name can be typed. Kazakhstan has used one zone (UTC+5) since 2024.
REGION_ZONES = (
    "Asia/Almaty",
    "Asia/Bishkek",
    "Asia/Dushanbe",
    "Asia/Tashkent",
    "Asia/Ashgabat",
    "Europe/Moscow",
    "UTC",
)
TIME_CHOICES = ("06:00", "07:00", "08:00", "09:00", "12:00", "18:00", "21:00")
LANGUAGES = ("en", "ru")

_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


class SettingError(ValueError):
    """A value the subscriber typed that cannot be used."""


class BadTime(SettingError):
    pass


class BadTimezone(SettingError):
    pass


class UnknownTopic(SettingError):
    pass


class NotSubscribed(SettingError):
    pass


def parse_time(text: str) -> str:
    """'8:30', '08.30' or '8h30' as 'HH:MM'; BadTime for anything else (25:99, noon)."""
    match = _TIME.match(text or "")
    if not match:
        raise BadTime(text)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise BadTime(text)
    return f"{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    # Area/City names only: "localtime", "Factory" or "EST" are not places anyone lives.
    zones = [
        n
        for n in available_timezones()
        if "/" in n and not n.startswith(("Etc/", "SystemV/", "posix/", "right/"))
    ]
    names = {name.lower(): name for name in zones}
    names["utc"] = "UTC"
    # The city alone is what people type: "Almaty", "tashkent".
    for name in list(names.values()):
        city = name.rsplit("/", 1)[-1].lower()
        names.setdefault(city, name)
        names.setdefault(city.replace("_", " "), name)
    return names


def parse_timezone(text: str) -> str:
    """An IANA zone name, matched without regard to case, or a city: 'asia/almaty', 'Tashkent'."""
    name = _zones_by_lower_name().get((text or "").strip().lower())
    if name is None:
        raise BadTimezone(text)
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise BadTimezone(text) from None
    return name


def pick_language(telegram_code: str | None, default: str = "en") -> str:
    """The interface language for a Telegram language code ('ru-RU' -> 'ru'); else the default."""
    code = (telegram_code or "").split("-")[0].lower()
    return code if code in LANGUAGES else default


def subscribe(
    db: Database,
    config: Config,
    chat_id: int,
    language_code: str | None,
    now: datetime | None = None,
) -> tuple[Subscriber, bool]:
    """Subscribe the chat (again); returns the subscription and whether it is new.

    A returning chat keeps the settings it had; a new one gets the profile's defaults.
    """
    existing = get_subscriber(db, chat_id)
    if existing is not None:
        if not existing.active:
            set_active(db, chat_id, True, now)
            existing.active = True
        return existing, False
    subscriber = Subscriber(
        chat_id=chat_id,
        language=pick_language(language_code, config.bot.default_language),
        timezone=config.bot.default_timezone,
        delivery_time=config.bot.default_time,
        topics=list(config.bot.default_topics),
        active=True,
    )
    save_subscriber(db, subscriber, now or datetime.now(UTC))
    return subscriber, True


def unsubscribe(db: Database, chat_id: int) -> bool:
    """Stop deliveries; settings are kept for a return. False if the chat was not subscribed."""
    subscriber = get_subscriber(db, chat_id)
    if subscriber is None or not subscriber.active:
        return False
    return set_active(db, chat_id, False)


def require(db: Database, chat_id: int) -> Subscriber:
    subscriber = get_subscriber(db, chat_id)
    if subscriber is None:
        raise NotSubscribed(str(chat_id))
    return subscriber


def toggle_topic(db: Database, config: Config, chat_id: int, key: str) -> Subscriber:
    """Add the topic to the chat's list, or take it off."""
    if config.topic(key) is None:
        raise UnknownTopic(key)
    subscriber = require(db, chat_id)
    if key in subscriber.topics:
        subscriber.topics.remove(key)
    else:
        subscriber.topics.append(key)
    save_subscriber(db, subscriber)
    return subscriber


def update(db: Database, chat_id: int, **changes: str) -> Subscriber:
    """Change language, timezone or delivery_time (already checked) of a subscription."""
    subscriber = require(db, chat_id)
    for name, value in changes.items():
        setattr(subscriber, name, value)
    save_subscriber(db, subscriber)
    return subscriber


def find_topic(config: Config, text: str) -> str | None:
    """The topic key a user means: its key or its label in any language, any case."""
    wanted = (text or "").strip().lower()
    for topic in config.topics:
        names = {topic.key, topic.label.lower(), *(v.lower() for v in topic.labels.values())}
        if wanted in names:
            return topic.key
    return None

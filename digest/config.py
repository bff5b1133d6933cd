"""The one configuration object: the built-in default profile, a TOML file over it, secrets from env."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DB = "newsdigest.db"


class ConfigError(ValueError):
    """A configuration problem, worded for the operator: names the key and what is wrong."""


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str


@dataclass(frozen=True)
class TopicConfig:
    """A topic users can pick; `kind` is country, region or subject."""

    key: str
    label: str
    kind: str
    keywords: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # language -> label

    def label_for(self, language: str) -> str:
        return self.labels.get(language, self.label)


@dataclass(frozen=True)
class FetchConfig:
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    concurrency: int = 8
    user_agent: str = "newsdigest/0.1"
    backoff_minutes: float = 15.0
    backoff_max_hours: float = 24.0
    extract_teasers: bool = True
    teaser_chars: int = 500


@dataclass(frozen=True)
class DigestConfig:
    title: str = "News digest"
    titles: Mapping[str, str] = field(default_factory=dict)  # language -> title
    window_hours: int = 24
    per_topic: int = 5
    summary_sentences: int = 3

    def title_for(self, language: str) -> str:
        return self.titles.get(language, self.title)


@dataclass(frozen=True)
class RatesConfig:
    """Which currencies, and for each the chain of sources tried in order."""

    base: str = "USD"
    currencies: tuple[str, ...] = ("KZT", "KGS", "UZS", "TJS", "TMT")
    sources: Mapping[str, str] = field(default_factory=dict)  # provider name -> base URL
    chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # currency -> providers
    default_chain: tuple[str, ...] = ("frankfurter",)

    def chain(self, currency: str) -> tuple[str, ...]:
        return self.chains.get(currency, self.default_chain)


@dataclass(frozen=True)
class DeliveryConfig:
    """Scheduled delivery: how often to look, how late is too late, how fast to send."""

    grace_hours: float = 3.0
    pass_every_seconds: float = 60.0
    concurrency: int = 64  # chats served at once in a pass
    retry_attempts: int = 3  # per message, for 5xx and timeouts
    retry_backoff_seconds: float = 1.0  # doubles after each failed attempt
    global_rate: float = 29.0  # messages per second for the whole bot
    per_chat_interval: float = 1.0  # seconds between two messages to one private chat
    group_per_minute: int = 20


@dataclass(frozen=True)
class ScheduleConfig:
    """Recurring jobs besides delivery."""

    fetch_feeds_minutes: float = 15.0
    fetch_rates_times: tuple[str, ...] = ("07:00", "11:00", "16:00")  # in bot.default_timezone
    prune_after_days: int = 90


@dataclass(frozen=True)
class BotConfig:
    admins: tuple[int, ...] = ()
    api_url: str | None = None
    default_language: str = "en"
    default_timezone: str = "Asia/Almaty"
    default_time: str = "08:00"
    default_topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    feeds: tuple[FeedConfig, ...]
    topics: tuple[TopicConfig, ...]
    fetch: FetchConfig = FetchConfig()
    digest: DigestConfig = DigestConfig()
    rates: RatesConfig = RatesConfig()
    bot: BotConfig = BotConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    database: str = DEFAULT_DB
    token: str | None = field(default=None, repr=False)  # never printed
    source: str = "built-in default"

    def topic(self, key: str) -> TopicConfig | None:
        return next((t for t in self.topics if t.key == key), None)


def default_profile_text() -> str:
    """The TOML of the built-in Central Asia profile, shipped inside the package."""
    return resources.files("digest").joinpath("default.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the default profile, lay the operator's TOML file over it and add secrets from `env`.

    `path` falls back to NEWSDIGEST_CONFIG; without either the built-in default is used alone.
    Raises ConfigError with one sentence naming the key and the problem.
    """
    env = os.environ if env is None else env
    data = tomllib.loads(default_profile_text())
    source = "built-in default"
    path = path or env.get("NEWSDIGEST_CONFIG") or None
    if path:
        path = Path(path)
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        data = _overlay(data, user)
        source = str(path)
    config = _build(data)
    token = env.get("TELEGRAM_BOT_TOKEN") or None
    return replace(config, token=token, source=source)


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; lists (feeds, topics) and values from `top` replace the default."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


_KNOWN = {"feeds", "topics", "fetch", "digest", "rates", "bot", "delivery", "schedule", "database"}


def _build(data: dict[str, Any]) -> Config:
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"config key '{unknown[0]}' is not known (known: {', '.join(sorted(_KNOWN))})"
        )
    feeds = tuple(_feed(i, item) for i, item in enumerate(_list(data, "feeds")))
    urls = [f.url for f in feeds]
    for url in urls:
        if urls.count(url) > 1:
            raise ConfigError(f"config key 'feeds': the url '{url}' is listed twice")
    topics = tuple(_topic(i, item) for i, item in enumerate(_list(data, "topics")))
    keys = [t.key for t in topics]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"config key 'topics': the key '{key}' is used twice")
    from digest.topics import compile_topics  # the keyword syntax is checked where it is read

    compile_topics(topics)
    fetch = _section(data, "fetch", FetchConfig)
    digest = _section(data, "digest", DigestConfig)
    if not isinstance(digest.titles, dict) or not all(
        isinstance(v, str) and v for v in digest.titles.values()
    ):
        raise ConfigError("config key 'digest.titles' must be a table of language = title")
    for name in ("window_hours", "per_topic", "summary_sentences"):
        if getattr(digest, name) < 1:
            raise ConfigError(f"config key 'digest.{name}' must be at least 1")
    rates = _rates(data.get("rates", {}))
    bot = _section(data, "bot", BotConfig)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", bot.default_time or ""):
        raise ConfigError(f"config key 'bot.default_time' must be HH:MM, got {bot.default_time!r}")
    try:
        ZoneInfo(bot.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"config key 'bot.default_timezone': {bot.default_timezone!r} is not an IANA time zone"
        ) from None
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in bot.admins):
        raise ConfigError("config key 'bot.admins' must be a list of numeric Telegram chat ids")
    for key in bot.default_topics:
        if key not in keys:
            raise ConfigError(f"config key 'bot.default_topics': '{key}' is not a configured topic")
    delivery = _section(data, "delivery", DeliveryConfig)
    schedule = _section(data, "schedule", ScheduleConfig)
    for value in schedule.fetch_rates_times:
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ConfigError(f"config key 'schedule.fetch_rates_times': {value!r} is not HH:MM")
    if delivery.concurrency < 1 or delivery.group_per_minute < 1:
        raise ConfigError("config keys 'delivery.concurrency' and 'group_per_minute' must be >= 1")
    database = data.get("database", DEFAULT_DB)
    if not isinstance(database, str) or not database:
        raise ConfigError("config key 'database' must be a file path")
    return Config(
        feeds=feeds,
        topics=topics,
        fetch=fetch,
        digest=digest,
        rates=rates,
        bot=bot,
        delivery=delivery,
        schedule=schedule,
        database=database,
    )


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"config key '{key}' must be a list of tables ([[{key}]])")
    return value


def _feed(index: int, item: Any) -> FeedConfig:
    where = f"feeds[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"config key '{where}' must be a table with name and url")
    url = item.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"config key '{where}.url' must be an http(s) URL, got {url!r}")
    name = item.get("name") or url
    if not isinstance(name, str):
        raise ConfigError(f"config key '{where}.name' must be text")
    return FeedConfig(name=name, url=url)


def _topic(index: int, item: Any) -> TopicConfig:
    where = f"topics[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"config key '{where}' must be a table with key, label and keywords")
    key = item.get("key")
    if not isinstance(key, str) or not key or len(key.encode()) > 32 or " " in key:
        raise ConfigError(f"config key '{where}.key' must be a short word without spaces")
    key = key.lower()  # users type topic keys in any case
    kind = item.get("kind", "subject")
    if kind not in ("country", "region", "subject"):
        raise ConfigError(f"config key '{where}.kind' must be country, region or subject")
    keywords = item.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise ConfigError(f"config key '{where}.keywords' must be a list of words")
    if not keywords:
        raise ConfigError(
            f"config key '{where}.keywords' is empty: topic '{key}' could never match"
        )
    labels = item.get("labels", {})
    if not isinstance(labels, dict):
        raise ConfigError(f"config key '{where}.labels' must be a table of language = label")
    return TopicConfig(
        key=key,
        label=str(item.get("label", key)),
        kind=kind,
        keywords=tuple(keywords),
        labels=dict(labels),
    )


def _rates(table: Any) -> RatesConfig:
    """The [rates] table: plain keys, plus the [rates.sources] and [rates.chains] tables."""
    from digest.providers.registry import PROVIDERS

    if not isinstance(table, dict):
        raise ConfigError("config key 'rates' must be a table ([rates])")
    plain = {k: v for k, v in table.items() if k not in ("sources", "chains")}
    rates = _section({"rates": plain}, "rates", RatesConfig)
    for code in (*rates.currencies, rates.base):
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code):
            raise ConfigError(f"config key 'rates': {code!r} is not a three-letter currency code")
    currencies = tuple(c.upper() for c in rates.currencies)
    sources = table.get("sources", {})
    if not isinstance(sources, dict):
        raise ConfigError("config key 'rates.sources' must be a table of provider = base URL")
    for name, url in sources.items():
        if name not in PROVIDERS:
            raise ConfigError(
                f"config key 'rates.sources.{name}' names no known provider "
                f"(known: {', '.join(sorted(PROVIDERS))})"
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"config key 'rates.sources.{name}' must be an http(s) URL")
    chains_raw = table.get("chains", {})
    if not isinstance(chains_raw, dict):
        raise ConfigError("config key 'rates.chains' must be a table of currency = [providers]")
    chains: dict[str, tuple[str, ...]] = {}
    for currency, chain in {**chains_raw, "": list(rates.default_chain)}.items():
        where = f"rates.chains.{currency}" if currency else "rates.default_chain"
        if not isinstance(chain, list) or not chain:
            raise ConfigError(f"config key '{where}' must be a non-empty list of providers")
        for name in chain:
            if name not in PROVIDERS:
                raise ConfigError(
                    f"config key '{where}': '{name}' is not a known provider "
                    f"(known: {', '.join(sorted(PROVIDERS))})"
                )
            if PROVIDERS[name].needs_http and name not in sources:
                raise ConfigError(
                    f"config key '{where}': provider '{name}' has no base URL in [rates.sources]"
                )
        if currency:
            chains[currency.upper()] = tuple(chain)
    return replace(
        rates, base=rates.base.upper(), currencies=currencies, sources=dict(sources), chains=chains
    )


def _section(data: dict[str, Any], key: str, cls: type) -> Any:
    """Build a section dataclass, checking each value against the default's type."""
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config key '{key}' must be a table ([{key}])")
    defaults = cls()
    values: dict[str, Any] = {}
    for name, value in table.items():
        if not hasattr(defaults, name):
            raise ConfigError(f"config key '{key}.{name}' is not known")
        values[name] = _coerce(f"{key}.{name}", getattr(defaults, name), value)
    return cls(**values)


def _coerce(where: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{where}' must be true or false, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"config key '{where}' must be a whole number >= 0, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"config key '{where}' must be a positive number, got {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"config key '{where}' must be a list, got {value!r}")
        return tuple(value)
    if default is None or isinstance(default, str):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"config key '{where}' must be text, got {value!r}")
        return value
    return value


def resolve_db_path(
    cli_value: str | None, config: Config, env: Mapping[str, str] | None = None
) -> str:
    """--db, then NEWSDIGEST_DB, then the config's `database`, then newsdigest.db here."""
    env = os.environ if env is None else env
    return cli_value or env.get("NEWSDIGEST_DB") or config.database

"""Building a digest: the rates block, then sections by topic with the most relevant recent stories."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from digest.config import Config
from digest.rates import RateLine, rate_lines
from storage.articles import recent_articles
from storage.records import Article


class UnknownTopicError(ValueError):
    """A topic key that the configuration does not define."""


@dataclass
class DigestSection:
    key: str
    label: str
    articles: list[Article]


@dataclass
class Digest:
    title: str
    since: datetime
    until: datetime
    rates: list[RateLine]
    sections: list[DigestSection]
    language: str = "en"
    missing_currencies: list[str] = field(default_factory=list)

    @property
    def article_count(self) -> int:
        return sum(len(s.articles) for s in self.sections)


def relevance(article: Article, topic: str, until: datetime, window_hours: float) -> float:
    """Topic score, discounted with age (half-life: half the window), raised for wide coverage."""
    age_hours = max(0.0, (until - article.published).total_seconds() / 3600)
    half_life = max(1.0, window_hours / 2)
    recency = math.pow(0.5, age_hours / half_life)
    coverage = 1 + 0.25 * (max(1, len(article.sources)) - 1)
    return article.topics.get(topic, 0.0) * (0.5 + recency) * coverage


def build_digest(
    db: Database,
    config: Config,
    *,
    since: datetime,
    until: datetime,
    topics: Sequence[str] | None = None,
    currencies: Sequence[str] | None = None,
    language: str = "en",
    per_topic: int | None = None,
) -> Digest:
    """Collect the digest for a window: each article once, under the chosen topic it fits best."""
    # None means every topic; an empty list means none (a reader who switched them all off).
    topic_keys = [t.key for t in config.topics] if topics is None else list(dict.fromkeys(topics))
    for key in topic_keys:
        if config.topic(key) is None:
            raise UnknownTopicError(key)
    currencies = list(currencies) if currencies is not None else list(config.rates.currencies)
    per_topic = per_topic or config.digest.per_topic
    window_hours = max(1.0, (until - since).total_seconds() / 3600)

    candidates = recent_articles(db, since, until, topics=topic_keys)
    # Each article goes to the requested topic where it is most relevant; ties go to the topic
    # listed first, so the user's order decides.
    placed: dict[str, list[tuple[float, Article]]] = {key: [] for key in topic_keys}
    for article in candidates:
        scored = [
            (relevance(article, key, until, window_hours), -i, key)
            for i, key in enumerate(topic_keys)
            if key in article.topics
        ]
        if scored:
            score, _, key = max(scored)
            placed[key].append((score, article))

    sections = []
    for key in topic_keys:
        ranked = sorted(placed[key], key=lambda pair: (-pair[0], -pair[1].published.timestamp()))
        chosen = [article for _, article in ranked[:per_topic]]
        if chosen:
            topic = config.topic(key)
            sections.append(DigestSection(key, topic.label_for(language), chosen))

    lines = rate_lines(db, currencies, config.rates.base, until.date(), config.rates.chains)
    shown = {line.currency for line in lines}
    return Digest(
        title=config.digest.title_for(language),
        since=since,
        until=until,
        rates=lines,
        sections=sections,
        language=language,
        missing_currencies=[c for c in currencies if c not in shown],
    )

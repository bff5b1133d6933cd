"""Records that cross package boundaries: what is stored and what the queries return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass
class Article:
    """One story as stored: canonical URL, text, summary and every source that carried it."""

    url: str
    title: str
    source: str
    published: datetime  # timezone-aware, UTC
    text: str
    summary: str = ""
    content_hash: str = ""
    sources: list[str] = field(default_factory=list)
    topics: dict[str, float] = field(default_factory=dict)  # topic key -> relevance score
    id: int | None = None


@dataclass
class FeedState:
    """What the fetcher remembers about one feed between runs."""

    url: str
    name: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_status: str = "new"  # new | ok | not-modified | error
    last_error: str | None = None
    failures: int = 0
    next_try: datetime | None = None
    last_fetched: datetime | None = None
    last_ok: datetime | None = None
    articles_total: int = 0


@dataclass(frozen=True)
class RateObservation:
    """Value of one unit of `currency` in `base`, as published by `source` for `as_of`."""

    currency: str
    base: str
    value: Decimal
    source: str
    as_of: date
    fetched_at: datetime | None = None
    # The source's own word on its previous fixing (NBK's <change>, CBU's Diff), when it gives
    # one: the day's change can be shown before two fixings are stored.
    previous: Decimal | None = None


@dataclass
class Subscriber:
    """One chat that receives digests."""

    chat_id: int
    language: str = "en"
    timezone: str = "UTC"
    delivery_time: str = "08:00"
    topics: list[str] = field(default_factory=list)
    active: bool = True
    created_at: datetime | None = None


@dataclass
class Delivery:
    """One row of the delivery ledger: a chat's digest of one local day, and how far it got.

    status: sending (claimed, `parts_sent` of `parts_total` messages out), retry (a transient
    failure; the next pass resumes), sent, skipped (fell due too long ago), failed (the chat is
    closed to the bot), moved (the group became a supergroup with another id).
    """

    chat_id: int
    digest_date: date
    status: str
    due_at: datetime
    digest_id: int | None = None
    parts_total: int = 0
    parts_sent: int = 0
    attempts: int = 0
    error: str | None = None

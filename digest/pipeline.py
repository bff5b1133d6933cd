"""One ingestion pass: fetch every feed, store what is new, record each feed's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlite_utils import Database

from digest.config import Config
from digest.dedup import canonical_url
from digest.feeds import FeedResult, fetch_feeds
from digest.ingest import Ingestor, IngestStats
from storage.articles import find_by_url
from storage.feeds import feed_states, save_feed_state


@dataclass
class FeedReport:
    """One feed's outcome in a pass, as `newsdigest fetch` prints it."""

    name: str
    url: str
    status: str  # ok | not-modified | error | skipped
    error: str | None
    entries: int
    new: int
    duplicates: int
    elapsed: float


class _StoredUrls:
    """Answers `url in known` from the database, so stored stories' pages are not fetched again."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and find_by_url(self.db, canonical_url(url)) is not None


async def fetch_and_store(
    db: Database,
    config: Config,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    on_report: Callable[[FeedReport], None] | None = None,
) -> list[FeedReport]:
    """Fetch all configured feeds concurrently and store their new articles as each one arrives."""
    now = now or datetime.now(UTC)
    ingestor = Ingestor(db, config, now)
    reports: dict[str, FeedReport] = {}

    def store(result: FeedResult) -> None:
        stats = ingestor.ingest(result.entries) if result.entries else IngestStats()
        state = result.state
        state.name = result.feed.name
        state.articles_total += stats.new
        save_feed_state(db, state)
        report = FeedReport(
            name=result.feed.name,
            url=result.feed.url,
            status=result.status,
            error=result.error,
            entries=len(result.entries),
            new=stats.new,
            duplicates=stats.duplicates,
            elapsed=result.elapsed,
        )
        reports[result.feed.url] = report
        if on_report:
            on_report(report)

    await fetch_feeds(
        config.feeds,
        feed_states(db),
        config.fetch,
        client=client,
        now=now,
        on_result=store,
        known_urls=_StoredUrls(db),
    )
    return [reports[f.url] for f in config.feeds if f.url in reports]

"""From entries to stored articles: canonical URL, dedup, summary, topics, one transaction each."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from datasketch import MinHash
from sqlite_utils import Database

from digest import dedup
from digest.config import Config
from digest.models import Entry
from digest.summarize import summarize
from digest.text import normalize
from digest.topics import assign_topics, compile_topics
from storage import articles as store
from storage.records import Article

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """What one batch did: new stories, stories already known, entries that were unusable."""

    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    upgraded: int = 0  # duplicates whose fuller text replaced a stored teaser


def entry_url(entry: Entry, title: str, text: str) -> str:
    """Canonical URL of the entry; a stable URN for entries that came without a link."""
    if entry.url and entry.url.startswith(("http://", "https://")):
        return dedup.canonical_url(entry.url)
    digest = hashlib.sha1(f"{entry.source}\n{title}\n{text[:2000]}".encode()).hexdigest()
    return f"urn:newsdigest:{digest[:20]}"


class Ingestor:
    """Stores entries as articles, recognising stories already stored under any source."""

    def __init__(self, db: Database, config: Config, now: datetime | None = None) -> None:
        self.db = db
        self.config = config
        self.now = now or datetime.now(UTC)
        self.matcher = compile_topics(config.topics)
        self.index = dedup.NearDupIndex()
        self._loaded: tuple[datetime, datetime] | None = None

    def ingest(self, entries: Iterable[Entry]) -> IngestStats:
        """Store every usable entry; each article is written in its own transaction."""
        entries = list(entries)
        self._load_window(entries)
        stats = IngestStats()
        for entry in entries:
            try:
                self._ingest_one(entry, stats)
            except Exception:  # one bad entry must not lose the rest of the batch
                log.exception("could not store entry %r from %s", entry.title[:80], entry.source)
                stats.skipped += 1
        return stats

    def _load_window(self, entries: Sequence[Entry]) -> None:
        """Put the stored stories near the batch's dates into the near-duplicate index."""
        dates = [e.published or self.now for e in entries]
        if not dates:
            return
        since = min(dates) - self.index.window
        until = max(dates) + self.index.window
        if self._loaded and self._loaded[0] <= since and until <= self._loaded[1]:
            return
        candidates = store.dedup_candidates(self.db, since, until)
        self.index.extend((c.id, c.title, c.lead, c.published, c.minhash) for c in candidates)
        self._loaded = (since, until)

    def _ingest_one(self, entry: Entry, stats: IngestStats) -> None:
        # Parsers hand over clean text; a "<" in a title here is literal, not markup.
        title = " ".join(normalize(entry.title).split())
        text = normalize(entry.text)
        if not title:
            stats.skipped += 1
            return
        url = entry_url(entry, title, text)
        published = (entry.published or self.now).astimezone(UTC)
        # A date in the future is a wrong clock or time zone at the source; it would hide the
        # story from every digest until then.
        published = min(published, self.now)

        known = store.find_by_url(self.db, url)
        content_hash = dedup.content_hash(title, text)
        if known is None:
            known = store.find_by_hash(self.db, content_hash)
        signature = dedup.minhash_of(title, text)
        if known is None and text:
            known = self.index.find(title, text, published, signature)
        if known is not None:
            store.add_source(self.db, known, entry.source, url, self.now)
            stats.duplicates += 1
            if self._upgrade(known, title, text, content_hash, signature):
                stats.upgraded += 1
            return

        article = Article(
            url=url,
            title=title,
            source=entry.source,
            published=published,
            text=text,
            summary=summarize(title, text, self.config.digest.summary_sentences),
            content_hash=content_hash,
            topics=assign_topics(self.matcher, title, text),
        )
        article_id = store.insert_article(
            self.db, article, self.now, dedup.minhash_bytes(signature)
        )
        self.index.add(article_id, title, text, published, signature)
        stats.new += 1

    def _upgrade(
        self, article_id: int, title: str, text: str, content_hash: str, signature: MinHash
    ) -> bool:
        """A stored teaser gets the full text when another copy of the story brings it."""
        stored = store.text_length(self.db, article_id)
        if stored >= self.config.fetch.teaser_chars or len(text) < 2 * max(stored, 1):
            return False
        store.update_article_body(
            self.db,
            article_id,
            text=text,
            summary=summarize(title, text, self.config.digest.summary_sentences),
            content_hash=content_hash,
            topics=assign_topics(self.matcher, title, text),
            minhash=dedup.minhash_bytes(signature),
        )
        return True


def ingest_entries(
    db: Database, config: Config, entries: Iterable[Entry], now: datetime | None = None
) -> IngestStats:
    """One-shot helper: store a batch of entries."""
    return Ingestor(db, config, now).ingest(entries)

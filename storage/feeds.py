"""Fetch state of each feed: conditional-GET validators, errors and backoff."""

from __future__ import annotations

from sqlite_utils import Database

from storage.db import from_iso, utc_iso
from storage.records import FeedState


def feed_states(db: Database) -> dict[str, FeedState]:
    """Every feed's stored state, keyed by URL."""
    return {row["url"]: _state(row) for row in db["feeds"].rows}


def save_feed_state(db: Database, state: FeedState) -> None:
    """Store the state after a fetch (insert or replace)."""
    with db.atomic():
        db["feeds"].upsert(
            {
                "url": state.url,
                "name": state.name,
                "etag": state.etag,
                "last_modified": state.last_modified,
                "last_status": state.last_status,
                "last_error": state.last_error,
                "failures": state.failures,
                "next_try": utc_iso(state.next_try) if state.next_try else None,
                "last_fetched": utc_iso(state.last_fetched) if state.last_fetched else None,
                "last_ok": utc_iso(state.last_ok) if state.last_ok else None,
                "articles_total": state.articles_total,
            },
            pk="url",
        )


def _state(row: dict) -> FeedState:
    return FeedState(
        url=row["url"],
        name=row["name"] or "",
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_status=row["last_status"] or "new",
        last_error=row["last_error"],
        failures=row["failures"] or 0,
        next_try=from_iso(row["next_try"]),
        last_fetched=from_iso(row["last_fetched"]),
        last_ok=from_iso(row["last_ok"]),
        articles_total=row["articles_total"] or 0,
    )

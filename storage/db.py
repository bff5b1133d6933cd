"""Opening the database: one SQLite file in WAL mode, migrated forward on open."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

log = logging.getLogger(__name__)

Migration = Callable[[Database], None]


def _v1_initial(db: Database) -> None:
    db["feeds"].create(
        {
            "url": str,
            "name": str,
            "etag": str,
            "last_modified": str,
            "last_status": str,
            "last_error": str,
            "failures": int,
            "next_try": str,
            "last_fetched": str,
            "last_ok": str,
            "articles_total": int,
        },
        pk="url",
        defaults={"failures": 0, "articles_total": 0, "last_status": "new"},
    )
    db["articles"].create(
        {
            "id": int,
            "url": str,
            "title": str,
            "source": str,
            "published": str,
            "fetched_at": str,
            "text": str,
            "summary": str,
            "content_hash": str,
            "minhash": bytes,
        },
        pk="id",
        not_null={"url", "title", "source", "published", "text"},
    )
    db["articles"].create_index(["url"], unique=True)
    db["articles"].create_index(["published"])
    db["articles"].create_index(["content_hash"])
    db["article_sources"].create(
        {"article_id": int, "source": str, "url": str, "seen_at": str},
        pk=("article_id", "source", "url"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["article_sources"].create_index(["url"])
    db["article_topics"].create(
        {"article_id": int, "topic": str, "score": float},
        pk=("article_id", "topic"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["article_topics"].create_index(["topic"])
    db["rates"].create(
        {
            "id": int,
            "currency": str,
            "base": str,
            "value": str,  # Decimal as text: never rounded by a float
            "source": str,
            "as_of": str,
            "fetched_at": str,
        },
        pk="id",
        not_null={"currency", "base", "value", "source", "as_of"},
    )
    db["rates"].create_index(["currency", "source", "as_of"])
    db["subscribers"].create(
        {
            "chat_id": int,
            "language": str,
            "timezone": str,
            "delivery_time": str,
            "active": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="chat_id",
        defaults={"language": "en", "timezone": "UTC", "delivery_time": "08:00", "active": 1},
    )
    db["subscriber_topics"].create(
        {"chat_id": int, "topic": str},
        pk=("chat_id", "topic"),
        foreign_keys=[("chat_id", "subscribers", "chat_id")],
    )


def _v2_deliveries(db: Database) -> None:
    """The delivery ledger, and the rendered digests it points to (shared by many chats)."""
    db["digests"].create({"id": int, "key": str, "created_at": str, "messages": str}, pk="id")
    db["deliveries"].create(
        {
            "chat_id": int,
            "digest_date": str,
            "status": str,
            "due_at": str,
            "digest_id": int,
            "parts_total": int,
            "parts_sent": int,
            "attempts": int,
            "error": str,
            "updated_at": str,
            "sent_at": str,
        },
        pk=("chat_id", "digest_date"),
        defaults={"parts_total": 0, "parts_sent": 0, "attempts": 0},
    )
    db["deliveries"].create_index(["digest_date", "status"])


def _v3_stated_previous(db: Database) -> None:
    """Rates keep the previous value a source states beside its current one."""
    db["rates"].add_column("previous", str)


# Append only: a migration, once released, is never edited; the schema version is its index + 1.
MIGRATIONS: list[Migration] = [_v1_initial, _v2_deliveries, _v3_stated_previous]


def schema_version(db: Database) -> int:
    """The schema version recorded in the file (0 for a new file)."""
    if "meta" not in db.table_names():
        return 0
    row = db.execute("select value from meta where key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: Database) -> int:
    """Run every migration the file has not seen yet, each in its own transaction."""
    current = schema_version(db)
    for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
        with db.atomic():
            db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            step(db)
            db["meta"].upsert({"key": "schema_version", "value": str(version)}, pk="key")
        log.info("database migrated to schema version %d", version)
    _ensure_fts(db)
    return len(MIGRATIONS)


def _ensure_fts(db: Database) -> None:
    """Full-text index over article titles and text, kept current by triggers.

    sqlite-utils builds it with executescript, which commits on its own, so it runs outside the
    migration transactions and is simply recreated if a crash left it missing.
    """
    if db["articles"].detect_fts() is None:
        db["articles"].enable_fts(
            ["title", "text"], create_triggers=True, tokenize="unicode61", replace=True
        )


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) the database file, switch it to WAL and migrate it."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    # In WAL mode NORMAL never corrupts the file; at worst a power cut loses the last commits.
    db.execute("PRAGMA synchronous = NORMAL")
    migrate(db)
    return db


def utc_iso(moment: datetime) -> str:
    """The one text form of a moment in the database: UTC, seconds, ISO 8601."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where an aware one is needed")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str | None) -> datetime | None:
    """Parse a moment written by `utc_iso`."""
    return datetime.fromisoformat(text) if text else None

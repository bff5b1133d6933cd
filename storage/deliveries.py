"""The delivery ledger: one row per (chat, digest date), advanced one sent message at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

from sqlite_utils import Database

from storage.db import from_iso, utc_iso
from storage.records import Delivery

DONE = frozenset({"sent", "skipped", "failed", "moved"})


def _delivery(row: dict) -> Delivery:
    return Delivery(
        chat_id=row["chat_id"],
        digest_date=date.fromisoformat(row["digest_date"]),
        status=row["status"],
        due_at=from_iso(row["due_at"]),
        digest_id=row["digest_id"],
        parts_total=row["parts_total"] or 0,
        parts_sent=row["parts_sent"] or 0,
        attempts=row["attempts"] or 0,
        error=row["error"],
    )


def ledger(db: Database, days: Iterable[date]) -> dict[tuple[int, date], Delivery]:
    """Every ledger row of these digest dates, keyed by (chat, date)."""
    days = sorted({d.isoformat() for d in days})
    if not days:
        return {}
    marks = ", ".join("?" for _ in days)
    rows = db.execute_returning_dicts(
        f"select * from deliveries where digest_date in ({marks})", days
    )
    return {(r["chat_id"], date.fromisoformat(r["digest_date"])): _delivery(r) for r in rows}


def get_delivery(db: Database, chat_id: int, day: date) -> Delivery | None:
    rows = db.execute_returning_dicts(
        "select * from deliveries where chat_id = ? and digest_date = ?", [chat_id, day.isoformat()]
    )
    return _delivery(rows[0]) if rows else None


def save_digest(db: Database, key: str, messages: list[str], now: datetime) -> int:
    """Keep the rendered messages of one digest, so a resumed delivery sends the same text."""
    with db.atomic():
        return (
            db["digests"]
            .insert({"key": key, "created_at": utc_iso(now), "messages": json.dumps(messages)})
            .last_pk
        )


def digest_messages(db: Database, digest_id: int) -> list[str]:
    row = db.execute("select messages from digests where id = ?", [digest_id]).fetchone()
    return json.loads(row[0]) if row else []


def claim(
    db: Database,
    chat_id: int,
    day: date,
    due_at: datetime,
    digest_id: int,
    parts_total: int,
    now: datetime,
) -> Delivery:
    """Start (or resume) a delivery. A row already under way keeps its digest and progress."""
    with db.atomic():
        existing = get_delivery(db, chat_id, day)
        if existing is not None and existing.status in DONE:
            return existing
        if existing is not None and existing.digest_id is not None:
            db.execute(
                "update deliveries set status = 'sending', attempts = attempts + 1,"
                " updated_at = ? where chat_id = ? and digest_date = ?",
                [utc_iso(now), chat_id, day.isoformat()],
            )
        else:
            db["deliveries"].upsert(
                {
                    "chat_id": chat_id,
                    "digest_date": day.isoformat(),
                    "status": "sending",
                    "due_at": utc_iso(due_at),
                    "digest_id": digest_id,
                    "parts_total": parts_total,
                    "parts_sent": 0,
                    "attempts": 1,
                    "updated_at": utc_iso(now),
                },
                pk=("chat_id", "digest_date"),
            )
    return get_delivery(db, chat_id, day)


def part_sent(db: Database, chat_id: int, day: date, parts_sent: int, now: datetime) -> None:
    """Record that the first `parts_sent` messages are out; the last one finishes the delivery."""
    with db.atomic():
        db.execute(
            "update deliveries set parts_sent = ?, updated_at = ?,"
            " status = case when ? >= parts_total then 'sent' else status end,"
            " sent_at = case when ? >= parts_total then ? else sent_at end"
            " where chat_id = ? and digest_date = ?",
            [
                parts_sent,
                utc_iso(now),
                parts_sent,
                parts_sent,
                utc_iso(now),
                chat_id,
                day.isoformat(),
            ],
        )


def finish(
    db: Database,
    chat_id: int,
    day: date,
    status: str,
    now: datetime,
    error: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Set a final or retry status (creating the row for a digest skipped before it started)."""
    with db.atomic():
        updated = db.execute(
            "update deliveries set status = ?, error = ?, updated_at = ?"
            " where chat_id = ? and digest_date = ?",
            [status, error, utc_iso(now), chat_id, day.isoformat()],
        ).rowcount
        if not updated:
            db["deliveries"].insert(
                {
                    "chat_id": chat_id,
                    "digest_date": day.isoformat(),
                    "status": status,
                    "due_at": utc_iso(due_at or now),
                    "error": error,
                    "updated_at": utc_iso(now),
                }
            )


def last_sent_at(db: Database) -> datetime | None:
    row = db.execute("select max(sent_at) from deliveries where status = 'sent'").fetchone()
    return from_iso(row[0]) if row and row[0] else None


def count_by_status(db: Database, day: date) -> dict[str, int]:
    return {
        status: count
        for status, count in db.execute(
            "select status, count(*) from deliveries where digest_date = ? group by status",
            [day.isoformat()],
        )
    }


def prune_deliveries(db: Database, before: date) -> int:
    """Forget ledger rows and rendered digests older than `before`."""
    with db.atomic():
        removed = db.execute(
            "delete from deliveries where digest_date < ?", [before.isoformat()]
        ).rowcount
        db.execute(
            "delete from digests where id not in (select digest_id from deliveries"
            " where digest_id is not null) and created_at < ?",
            [before.isoformat()],
        )
    return removed

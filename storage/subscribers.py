"""Subscribers: one row per chat, with language, time zone, delivery time and topics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from storage.db import from_iso, utc_iso
from storage.records import Subscriber


def get_subscriber(db: Database, chat_id: int) -> Subscriber | None:
    """The chat's subscription (active or not), or None if it never subscribed."""
    try:
        row = db["subscribers"].get(chat_id)
    except NotFoundError:
        return None
    topics = [
        r[0]
        for r in db.execute(
            "select topic from subscriber_topics where chat_id = ? order by rowid", [chat_id]
        )
    ]
    return _subscriber(row, topics)


def _subscriber(row: dict, topics: list[str]) -> Subscriber:
    return Subscriber(
        chat_id=row["chat_id"],
        language=row["language"],
        timezone=row["timezone"],
        delivery_time=row["delivery_time"],
        topics=topics,
        active=bool(row["active"]),
        created_at=from_iso(row["created_at"]),
    )


def save_subscriber(db: Database, subscriber: Subscriber, now: datetime | None = None) -> None:
    """Insert or update the chat's subscription and replace its topics, in one transaction."""
    stamp = utc_iso(now or datetime.now(UTC))
    with db.atomic():
        exists = db.execute(
            "select 1 from subscribers where chat_id = ?", [subscriber.chat_id]
        ).fetchone()
        values = {
            "chat_id": subscriber.chat_id,
            "language": subscriber.language,
            "timezone": subscriber.timezone,
            "delivery_time": subscriber.delivery_time,
            "active": int(subscriber.active),
            "updated_at": stamp,
        }
        if exists:
            db["subscribers"].update(subscriber.chat_id, values)
        else:
            created = utc_iso(subscriber.created_at) if subscriber.created_at else stamp
            db["subscribers"].insert({**values, "created_at": created})
        db.execute("delete from subscriber_topics where chat_id = ?", [subscriber.chat_id])
        if subscriber.topics:
            db["subscriber_topics"].insert_all(
                {"chat_id": subscriber.chat_id, "topic": t}
                for t in dict.fromkeys(subscriber.topics)
            )


def set_active(db: Database, chat_id: int, active: bool, now: datetime | None = None) -> bool:
    """Switch a subscription on or off, keeping its settings; False if the chat is unknown."""
    with db.atomic():
        cursor = db.execute(
            "update subscribers set active = ?, updated_at = ? where chat_id = ?",
            [int(active), utc_iso(now or datetime.now(UTC)), chat_id],
        )
    return cursor.rowcount > 0


def move_subscriber(db: Database, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup: its subscription follows it to the new chat id."""
    old = get_subscriber(db, old_chat_id)
    if old is None:
        return
    with db.atomic():
        old.chat_id = new_chat_id
        save_subscriber(db, old)
        db.execute("delete from subscriber_topics where chat_id = ?", [old_chat_id])
        db.execute("delete from subscribers where chat_id = ?", [old_chat_id])


def active_subscribers(db: Database) -> list[Subscriber]:
    """Every active subscription with its topics, in two queries whatever their number."""
    topics: dict[int, list[str]] = {}
    for chat_id, topic in db.execute(
        "select t.chat_id, t.topic from subscriber_topics t join subscribers s"
        " on s.chat_id = t.chat_id where s.active = 1 order by t.rowid"
    ):
        topics.setdefault(chat_id, []).append(topic)
    rows = db.execute_returning_dicts("select * from subscribers where active = 1 order by chat_id")
    return [_subscriber(row, topics.get(row["chat_id"], [])) for row in rows]


def count_subscribers(db: Database, active_only: bool = True) -> int:
    sql = "select count(*) from subscribers" + (" where active = 1" if active_only else "")
    return db.execute(sql).fetchone()[0]


def set_topics(db: Database, chat_id: int, topics: Sequence[str]) -> None:
    """Replace the chat's topics."""
    subscriber = get_subscriber(db, chat_id)
    if subscriber is None:
        raise KeyError(chat_id)
    subscriber.topics = list(topics)
    save_subscriber(db, subscriber)

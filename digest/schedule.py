"""Who is due for a digest: local delivery times in each subscriber's zone, a grace window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.deliveries import DONE
from storage.records import Delivery, Subscriber


@dataclass(frozen=True)
class DueDigest:
    """A subscriber's digest of one local day, which fell due at `due_at` (UTC)."""

    subscriber: Subscriber
    digest_date: date
    due_at: datetime


def due_moment(day: date, hhmm: str, zone: str) -> datetime:
    """When `hhmm` on `day` happens in `zone`, in UTC.

    On a spring-forward day a time inside the gap does not exist; zoneinfo reads it with the
    offset from before the change, so it falls an hour later on the wall clock, never skipped.
    On a fall-back day the first of the two moments counts.
    """
    hours, minutes = (int(x) for x in hhmm.split(":"))
    local = datetime.combine(day, time(hours, minutes), tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def plan(
    subscribers: Iterable[Subscriber],
    ledger: Mapping[tuple[int, date], Delivery],
    now: datetime,
    grace: timedelta,
    *,
    everyone: bool = False,
) -> tuple[list[DueDigest], list[DueDigest]]:
    """(due, missed): digests to send now, and digests that fell due longer ago than `grace`.

    Each subscriber's local yesterday and today are looked at, so a digest that fell due just
    before midnight while the bot was down is still sent after it. With `everyone`, today's
    digest is due for every subscriber who has not had it, whatever the time.
    """
    due: list[DueDigest] = []
    missed: list[DueDigest] = []
    for subscriber in subscribers:
        zone = ZoneInfo(subscriber.timezone)
        today = now.astimezone(zone).date()
        for day in (today - timedelta(days=1), today):
            at = due_moment(day, subscriber.delivery_time, subscriber.timezone)
            row = ledger.get((subscriber.chat_id, day))
            if row is not None and row.status in DONE:
                continue
            if everyone and day == today:
                due.append(DueDigest(subscriber, day, min(at, now)))
                continue
            if at > now:
                continue
            if subscriber.created_at is not None and at < subscriber.created_at and row is None:
                continue  # it fell due before this chat subscribed
            item = DueDigest(subscriber, day, at)
            (missed if now - at > grace else due).append(item)
    return due, missed


def ledger_days(now: datetime) -> list[date]:
    """The digest dates any zone on Earth can be on at `now` (UTC-12 to UTC+14), plus yesterday's."""
    utc_day = now.astimezone(UTC).date()
    return [
        utc_day - timedelta(days=2),
        utc_day - timedelta(days=1),
        utc_day,
        utc_day + timedelta(days=1),
    ]

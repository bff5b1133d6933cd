"""Rate observations: every one kept, none overwritten."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlite_utils import Database

from storage.db import utc_iso
from storage.records import RateObservation


def add_observations(
    db: Database, observations: Iterable[RateObservation], fetched_at: datetime | None = None
) -> int:
    """Store observations; an identical one (same currency, source, date, value) is not repeated."""
    fetched = utc_iso(fetched_at or datetime.now(UTC))
    added = 0
    with db.atomic():
        for obs in observations:
            exists = db.execute(
                "select 1 from rates where currency = ? and base = ? and source = ?"
                " and as_of = ? and value = ?",
                [obs.currency, obs.base, obs.source, obs.as_of.isoformat(), str(obs.value)],
            ).fetchone()
            if exists:
                continue
            db["rates"].insert(
                {
                    "currency": obs.currency,
                    "base": obs.base,
                    "value": str(obs.value),
                    "source": obs.source,
                    "as_of": obs.as_of.isoformat(),
                    "fetched_at": utc_iso(obs.fetched_at) if obs.fetched_at else fetched,
                    "previous": None if obs.previous is None else str(obs.previous),
                }
            )
            added += 1
    return added


def history(
    db: Database,
    currency: str,
    base: str = "USD",
    source: str | None = None,
    since: date | None = None,
) -> list[RateObservation]:
    """Observations of one currency, oldest first; the latest fetch wins within a (source, day)."""
    where = ["currency = ?", "base = ?"]
    params: list[object] = [currency, base]
    if source is not None:
        where.append("source = ?")
        params.append(source)
    if since is not None:
        where.append("as_of >= ?")
        params.append(since.isoformat())
    rows = db.execute(
        "select currency, base, value, source, as_of, fetched_at, previous from rates"
        f" where {' and '.join(where)} order by as_of, fetched_at, id",
        params,
    ).fetchall()
    latest: dict[tuple[str, str], RateObservation] = {}
    for row in rows:
        latest[(row[3], row[4])] = _observation(row)
    return sorted(latest.values(), key=lambda o: (o.as_of, o.source))


def latest_by_source(
    db: Database, currency: str, base: str = "USD", per_source: int = 2
) -> list[RateObservation]:
    """Each source's last `per_source` days of one currency (the latest fetch of each day)."""
    rows = db.execute(
        """
        with per_day as (
            select source, as_of, max(id) as id from rates
            where currency = ? and base = ? group by source, as_of
        ), ranked as (
            select id, row_number() over (partition by source order by as_of desc) as rn
            from per_day
        )
        select r.currency, r.base, r.value, r.source, r.as_of, r.fetched_at, r.previous
        from rates r join ranked k on r.id = k.id where k.rn <= ?
        order by r.as_of, r.source
        """,
        [currency, base, per_source],
    ).fetchall()
    return [_observation(row) for row in rows]


def _observation(row: tuple) -> RateObservation:
    currency, base, value, source, as_of, fetched_at, previous = row
    return RateObservation(
        currency=currency,
        base=base,
        value=Decimal(value),
        source=source,
        as_of=date.fromisoformat(as_of),
        fetched_at=datetime.fromisoformat(fetched_at) if fetched_at else None,
        previous=Decimal(previous) if previous else None,
    )


def count_rates(db: Database) -> int:
    return db["rates"].count

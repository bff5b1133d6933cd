"""The sample articles and rates shipped with the package, for a first run without network."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources

from sqlite_utils import Database

from digest.config import Config
from digest.ingest import IngestStats, ingest_entries
from digest.markdown import parse_markdown
from digest.models import Entry
from storage.rates import add_observations
from storage.records import RateObservation

SAMPLE_SOURCE = "sample"


def sample_entries(now: datetime) -> list[Entry]:
    """The sample articles, moved in time so that the newest was published an hour before `now`."""
    text = resources.files("digest").joinpath("sample/articles.md").read_text(encoding="utf-8")
    entries = parse_markdown(text, default_source=SAMPLE_SOURCE)
    dated = [e.published for e in entries if e.published]
    shift = (now - timedelta(hours=1)) - max(dated) if dated else timedelta(0)
    return [replace(e, published=e.published + shift if e.published else None) for e in entries]


def sample_rates(today: date) -> list[RateObservation]:
    """The sample rate history, moved so that each source's last fixing falls on `today`.

    Days are re-mapped by rank, business day onto business day, so no fixing lands on a weekend.
    """
    raw = json.loads(
        resources.files("digest").joinpath("sample/rates.json").read_text(encoding="utf-8")
    )
    observations = []
    for source in sorted({r["source"] for r in raw}):
        rows = [r for r in raw if r["source"] == source]
        days = sorted({r["as_of"] for r in rows}, reverse=True)
        mapped = dict(
            zip(days, _days_back(today, len(days), source.endswith("fixed")), strict=True)
        )
        observations.extend(
            RateObservation(
                currency=r["currency"],
                base=r["base"],
                value=Decimal(r["value"]),
                source=source,
                as_of=mapped[r["as_of"]],
            )
            for r in rows
        )
    return observations


def _days_back(today: date, count: int, every_day: bool) -> list[date]:
    """`count` days ending at `today` (its last business day unless `every_day`), newest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        if every_day or day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days


def load_sample(
    db: Database, config: Config, now: datetime | None = None
) -> tuple[IngestStats, int]:
    """Store the sample articles and rates; returns what was ingested and how many rates were added."""
    now = now or datetime.now(UTC)
    stats = ingest_entries(db, config, sample_entries(now), now=now)
    added = add_observations(db, sample_rates(now.date()), fetched_at=now)
    return stats, added

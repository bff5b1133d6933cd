"""Ingest and summarise generated articles into a fresh database; print throughput and memory.

    python bench/ingest.py [--articles 2000] [--batch 100]

Target (issue 2): at least 200 articles/s on one core, peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest.config import load_config  # noqa: E402
from digest.ingest import Ingestor  # noqa: E402
from digest.models import Entry  # noqa: E402
from storage.db import open_db  # noqa: E402

PLACES = [
    "Astana",
    "Almaty",
    "Bishkek",
    "Osh",
    "Dushanbe",
    "Khujand",
    "Tashkent",
    "Samarkand",
    "Ashgabat",
    "Turkmenbashi",
    "Shymkent",
    "Bukhara",
]
ACTORS = [
    "the government",
    "the central bank",
    "the energy ministry",
    "a regional governor",
    "the national railway",
    "local farmers",
    "the customs service",
    "a state oil company",
    "the health ministry",
    "city officials",
    "a group of investors",
    "the parliament",
]
ACTIONS = [
    "announced",
    "approved",
    "postponed",
    "expanded",
    "reviewed",
    "financed",
    "criticised",
    "launched",
    "completed",
    "suspended",
    "doubled",
    "reorganised",
]
OBJECTS = [
    "a new gas pipeline",
    "the winter heating plan",
    "a solar park",
    "tariffs on imports",
    "a railway link to China",
    "rules for labour migrants",
    "a water-sharing agreement",
    "a programme of hospital repairs",
    "the budget for next year",
    "a digital payments pilot",
    "a dam on the river",
    "exports of grain",
    "a fund for small business",
    "new flights",
]
DETAILS = [
    "worth about {n} million dollars",
    "after {n} months of talks",
    "covering {n} districts",
    "for roughly {n} thousand residents",
    "with {n} foreign partners",
    "ahead of a summit in {p}",
    "despite objections in {p}",
    "following a drought near {p}",
]


def sentence(rng: random.Random) -> str:
    detail = rng.choice(DETAILS).format(n=rng.randint(2, 900), p=rng.choice(PLACES))
    text = f"In {rng.choice(PLACES)}, {rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} {detail}."
    return text[0].upper() + text[1:]


def generate(count: int, now: datetime, seed: int = 7) -> list[Entry]:
    """Articles of five to seven paragraphs; one in twenty repeats an earlier one from another feed."""
    rng = random.Random(seed)
    entries: list[Entry] = []
    for i in range(count):
        if entries and rng.random() < 0.05:
            original = rng.choice(entries)
            entries.append(
                Entry(
                    title=original.title,
                    url=f"https://mirror.example/{i}",
                    source="Mirror",
                    text=original.text,
                    published=original.published,
                )
            )
            continue
        paragraphs = [
            " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
            for _ in range(rng.randint(5, 7))
        ]
        title = f"{rng.choice(PLACES)}: {rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} ({i})"
        entries.append(
            Entry(
                title=title,
                url=f"https://news.example/{i}?utm_source=rss",
                source=rng.choice(["Feed A", "Feed B", "Feed C"]),
                text="\n\n".join(paragraphs),
                published=now - timedelta(minutes=rng.randint(0, 4 * 24 * 60)),
            )
        )
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument(
        "--batch", type=int, default=100, help="entries per ingest call (a feed's worth)"
    )
    args = parser.parse_args()

    now = datetime.now(UTC)
    entries = generate(args.articles, now)
    words = sum(len(e.text.split()) for e in entries) / len(entries)
    config = load_config(env={})
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        ingestor = Ingestor(db, config, now)
        start = time.perf_counter()
        new = duplicates = 0
        for i in range(0, len(entries), args.batch):
            stats = ingestor.ingest(entries[i : i + args.batch])
            new += stats.new
            duplicates += stats.duplicates
        elapsed = time.perf_counter() - start
        summaries = db.execute("select count(*) from articles where summary != ''").fetchone()[0]
        size = (Path(tmp) / "bench.db").stat().st_size + (Path(tmp) / "bench.db-wal").stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"articles in:        {len(entries)} (about {words:.0f} words each)")
    planted = sum(e.source == "Mirror" for e in entries)
    print(f"stored / merged:    {new} new, {duplicates} duplicates recognised ({planted} planted)")
    print(f"with a summary:     {summaries}")
    print(f"time:               {elapsed:.2f} s")
    print(f"throughput:         {len(entries) / elapsed:.0f} articles/s (target >= 200)")
    print(f"peak memory (RSS):  {peak_mb:.0f} MB (target < 300)")
    print(f"database size:      {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

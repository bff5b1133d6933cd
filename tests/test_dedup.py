"""The same story twice is stored once, remembering every source that carried it."""

from datetime import UTC, datetime, timedelta

import pytest

from digest import dedup
from digest.config import load_config
from digest.ingest import Ingestor, ingest_entries
from digest.models import Entry
from storage import articles as store
from storage.db import open_db

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

BODY = (
    "Kazakhstan's central bank kept its base rate at 16.5 percent on Friday, saying inflation "
    "was slowing more gently than it had expected in the autumn.\n\n"
    "The regulator said price growth in October stood at 12.4 percent year on year, driven by "
    "utility tariffs and food. It expects inflation to return to its target band only in 2027.\n\n"
    "Analysts in Almaty had expected the decision. The next meeting is scheduled for January."
)
REWORDED = (
    "The National Bank of Kazakhstan kept its base rate at 16.5 percent on Friday, saying that "
    "inflation was slowing more gently than it had expected during the autumn.\n\n"
    "The regulator said price growth in October stood at 12.4 percent year on year, driven by "
    "utility tariffs and food. It expects inflation to return to its target band only in 2027.\n\n"
    "Analysts in Almaty had expected the decision. The next meeting is scheduled for January."
)
OTHER = (
    "Uzbekistan's central bank cut its main rate to 13 percent on Thursday, pointing to a "
    "stronger sum and falling food prices.\n\n"
    "The bank in Tashkent said inflation in October was 7.9 percent, its lowest in five years."
)


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "news.db")


@pytest.fixture(scope="module")
def config():
    return load_config(env={})


def entry(title, url, source, text=BODY, published=NOW - timedelta(hours=2)):
    return Entry(title=title, url=url, source=source, text=text, published=published)


def astana_rate(**changes):
    """The rate story as The Astana Times first carries it."""
    return entry(
        "Kazakhstan holds base rate at 16.5%",
        "https://astanatimes.com/rate",
        "The Astana Times",
        **changes,
    )


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (
            "https://astanatimes.com/2026/11/rate/?utm_source=telegram&utm_medium=bot",
            "https://astanatimes.com/2026/11/rate",
        ),
        (
            "HTTPS://AstanaTimes.com:443/2026/11/rate/#comments",
            "https://astanatimes.com/2026/11/rate",
        ),
        ("https://kun.uz/en/news/1?fbclid=XYZ&id=7&gclid=1", "https://kun.uz/en/news/1?id=7"),
        ("https://kun.uz/en/news/1?b=2&a=1", "https://kun.uz/en/news/1?a=1&b=2"),
        ("http://24.kg:8080/english/1/", "http://24.kg:8080/english/1"),
    ],
)
def test_canonical_url_drops_tracking_and_noise(raw, canonical):
    assert dedup.canonical_url(raw) == canonical


def test_same_url_with_tracking_from_two_feeds_is_one_article_with_two_sources(db, config):
    stats = ingest_entries(
        db,
        config,
        [
            entry(
                "Kazakhstan holds base rate at 16.5%",
                "https://astanatimes.com/rate?utm_source=rss",
                "The Astana Times",
            ),
            entry("Kazakhstan holds base rate at 16.5%", "https://astanatimes.com/rate/", "Kun.uz"),
        ],
        now=NOW,
    )
    assert (stats.new, stats.duplicates) == (1, 1)
    [article] = store.recent_articles(db, NOW - timedelta(days=1), NOW)
    assert article.url == "https://astanatimes.com/rate"
    assert article.sources == ["The Astana Times", "Kun.uz"]


def test_reworded_copy_under_another_url_is_recognised(db, config):
    ingest_entries(
        db,
        config,
        [
            astana_rate(),
        ],
        now=NOW,
    )
    # A later run, a new Ingestor: the index is rebuilt from the stored signatures.
    stats = ingest_entries(
        db,
        config,
        [
            entry(
                "Kazakh central bank holds base rate at 16.5 percent",
                "https://timesca.com/kazakh-rate",
                "The Times of Central Asia",
                text=REWORDED,
            ),
        ],
        now=NOW + timedelta(hours=1),
    )
    assert (stats.new, stats.duplicates) == (0, 1)
    [article] = store.recent_articles(db, NOW - timedelta(days=1), NOW + timedelta(hours=1))
    assert article.sources == ["The Astana Times", "The Times of Central Asia"]
    assert store.find_by_url(db, "https://timesca.com/kazakh-rate") == article.id


def test_different_stories_on_the_same_subject_stay_apart(db, config):
    stats = ingest_entries(
        db,
        config,
        [
            astana_rate(),
            entry(
                "Uzbekistan cuts its main rate to 13%",
                "https://kun.uz/en/rate",
                "Kun.uz",
                text=OTHER,
            ),
        ],
        now=NOW,
    )
    assert stats.new == 2


def test_template_bulletins_with_other_figures_stay_apart(db, config):
    def bulletin(day, usd, eur):
        return (
            f"The official exchange rate of the tenge for {day} November was set at {usd} per US "
            f"dollar and {eur} per euro, the National Bank of Kazakhstan said on its website. "
            "The rates apply to customs payments and accounting."
        )

    stats = ingest_entries(
        db,
        config,
        [
            entry(
                "Official tenge exchange rate for 24 November",
                "https://wire.example/rate-24",
                "Wire",
                text=bulletin(24, "509.12", "587.40"),
            ),
            entry(
                "Official tenge exchange rate for 25 November",
                "https://wire.example/rate-25",
                "Wire",
                text=bulletin(25, "508.77", "586.95"),
                published=NOW - timedelta(hours=1),
            ),
        ],
        now=NOW,
    )
    assert stats.new == 2


def test_sample_duplicate_pair_is_merged(db, config):
    from digest.demo_data import sample_entries

    entries = sample_entries(NOW)
    stats = ingest_entries(db, config, entries, now=NOW)
    assert (stats.new, stats.duplicates) == (len(entries) - 1, 1)
    [railway] = [
        a
        for a in store.search_articles(db, "railway tunnel Kyrgyz", limit=20)
        if len(a.sources) > 1
    ]
    assert railway.sources == ["24.kg", "Daryo"]


def test_copies_far_apart_in_time_are_not_merged(db, config):
    ingest_entries(
        db,
        config,
        [
            astana_rate(published=NOW - timedelta(days=30)),
        ],
        now=NOW,
    )
    stats = ingest_entries(
        db,
        config,
        [
            entry(
                "Kazakh central bank holds base rate at 16.5 percent",
                "https://timesca.com/r",
                "The Times of Central Asia",
                text=REWORDED,
            ),
        ],
        now=NOW,
    )
    assert stats.new == 1


def test_identical_text_from_a_linkless_source_is_a_duplicate(db, config):
    ingest_entries(
        db,
        config,
        [
            astana_rate(),
        ],
        now=NOW,
    )
    stats = ingest_entries(
        db,
        config,
        [
            entry("Kazakhstan holds base rate at 16.5%", None, "Newsletter"),
        ],
        now=NOW,
    )
    assert (stats.new, stats.duplicates) == (0, 1)


def test_ingesting_the_same_batch_twice_stores_nothing_new(db, config):
    batch = [
        astana_rate(),
        entry("Uzbekistan cuts its main rate to 13%", None, "Kun.uz", text=OTHER),
    ]
    ingestor = Ingestor(db, config, now=NOW)
    assert ingestor.ingest(batch).new == 2
    again = Ingestor(db, config, now=NOW + timedelta(hours=3)).ingest(batch)
    assert (again.new, again.duplicates) == (0, 2)
    assert store.count_articles(db) == 2


def test_stored_article_has_summary_and_topics(db, config):
    ingest_entries(
        db,
        config,
        [
            astana_rate(),
        ],
        now=NOW,
    )
    [article] = store.recent_articles(db, NOW - timedelta(days=1), NOW)
    assert article.summary.startswith("Kazakhstan's central bank kept its base rate")
    assert "kazakhstan" in article.topics
    assert "economy" in article.topics


def test_entry_without_a_title_is_skipped_and_the_rest_stored(db, config):
    stats = ingest_entries(
        db,
        config,
        [
            entry("   ", "https://x.example/1", "X"),
            entry(
                "Uzbekistan cuts its main rate to 13%",
                "https://kun.uz/en/rate",
                "Kun.uz",
                text=OTHER,
            ),
        ],
        now=NOW,
    )
    assert (stats.new, stats.skipped) == (1, 1)


def test_full_text_from_another_copy_replaces_a_stored_teaser(db, config):
    teaser = BODY.split("\n\n")[0][:180]
    ingest_entries(
        db,
        config,
        [
            entry(
                "Kazakhstan holds base rate at 16.5%",
                "https://astanatimes.com/rate",
                "Feed",
                text=teaser,
            ),
        ],
        now=NOW,
    )
    stats = ingest_entries(
        db,
        config,
        [
            entry("Kazakhstan holds base rate at 16.5%", "https://astanatimes.com/rate", "Page"),
        ],
        now=NOW,
    )
    assert (stats.new, stats.duplicates, stats.upgraded) == (0, 1, 1)
    [article] = store.recent_articles(db, NOW - timedelta(days=1), NOW)
    assert article.text == BODY
    assert "Analysts in Almaty" in store.search_articles(db, "Analysts Almaty")[0].text
    assert article.summary.startswith("Kazakhstan's central bank kept its base rate")

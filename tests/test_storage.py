"""The database file: WAL, migrations, atomic writes, full-text search, fetch state, rates."""

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from storage import articles as store
from storage.db import MIGRATIONS, open_db, schema_version
from storage.feeds import feed_states, save_feed_state
from storage.rates import add_observations, history
from storage.records import Article, FeedState, RateObservation

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def make_article(n: int = 1, **changes) -> Article:
    values = dict(
        url=f"https://example.org/news/{n}",
        title=f"Astana hosts regional water talks {n}",
        source="The Astana Times",
        published=NOW - timedelta(hours=n),
        text="Ministers from five countries met in Astana to discuss sharing the Syr Darya.",
        summary="Ministers met in Astana.",
        content_hash=f"hash{n}",
        topics={"kazakhstan": 0.9, "climate": 0.5},
    )
    values.update(changes)
    return Article(**values)


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "news.db")


def test_new_database_is_a_wal_file_at_the_latest_schema(tmp_path):
    path = tmp_path / "sub" / "news.db"
    db = open_db(path)
    assert path.exists()
    assert db.journal_mode == "wal"
    assert schema_version(db) == len(MIGRATIONS)
    assert {"articles", "feeds", "rates", "subscribers", "article_topics"} <= set(db.table_names())


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path):
    path = tmp_path / "news.db"
    db = open_db(path)
    store.insert_article(db, make_article(), NOW)
    db.close()
    again = open_db(path)
    assert schema_version(again) == len(MIGRATIONS)
    assert store.count_articles(again) == 1


def test_inserted_article_comes_back_with_sources_and_topics(db):
    article_id = store.insert_article(db, make_article(), NOW)
    [back] = store.recent_articles(db, NOW - timedelta(days=1), NOW)
    assert back.id == article_id
    assert back.sources == ["The Astana Times"]
    assert back.topics == {"kazakhstan": 0.9, "climate": 0.5}
    assert back.published == NOW - timedelta(hours=1)


def test_second_source_is_remembered_once(db):
    article_id = store.insert_article(db, make_article(), NOW)
    assert store.add_source(db, article_id, "Eurasianet", "https://eurasianet.example/x", NOW)
    assert not store.add_source(db, article_id, "Eurasianet", "https://eurasianet.example/x", NOW)
    [back] = store.get_articles(db, [article_id])
    assert back.sources == ["The Astana Times", "Eurasianet"]
    assert store.find_by_url(db, "https://eurasianet.example/x") == article_id


def test_full_text_search_finds_words_of_title_and_body(db):
    store.insert_article(db, make_article(1), NOW)
    store.insert_article(
        db,
        make_article(
            2, title="Tashkent metro extends a line", text="New stations open in Yunusabad."
        ),
        NOW,
    )
    assert [a.title for a in store.search_articles(db, "Yunusabad")] == [
        "Tashkent metro extends a line"
    ]
    assert len(store.search_articles(db, "astana")) == 1
    # FTS syntax in user input is taken as plain words, never as an error.
    assert [a.title for a in store.search_articles(db, 'metro" (')] == [
        "Tashkent metro extends a line"
    ]
    assert store.search_articles(db, "   ") == []


def test_topic_filter_returns_only_tagged_articles(db):
    store.insert_article(db, make_article(1, topics={"kazakhstan": 1.0}), NOW)
    store.insert_article(db, make_article(2, topics={"uzbekistan": 1.0}), NOW)
    found = store.recent_articles(db, NOW - timedelta(days=1), NOW, topics=["uzbekistan"])
    assert [a.url for a in found] == ["https://example.org/news/2"]
    assert store.recent_articles(db, NOW - timedelta(days=1), NOW, topics=[]) == []


def test_failure_inside_an_article_write_leaves_nothing_behind(db, monkeypatch):
    import sqlite_utils.db

    original = sqlite_utils.db.Table.insert_all

    def failing(self, *args, **kwargs):
        if self.name == "article_topics":
            raise RuntimeError("disk pulled out")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sqlite_utils.db.Table, "insert_all", failing)
    with pytest.raises(RuntimeError):
        store.insert_article(db, make_article(), NOW)
    assert store.count_articles(db) == 0
    assert db["article_sources"].count == 0
    assert store.search_articles(db, "Astana") == []


def test_process_killed_mid_write_leaves_no_half_written_article(tmp_path):
    path = tmp_path / "news.db"
    script = textwrap.dedent(
        f"""
        import os, sqlite_utils.db
        from datetime import UTC, datetime
        from storage import articles as store
        from storage.db import open_db
        from storage.records import Article
        db = open_db({str(path)!r})
        original = sqlite_utils.db.Table.insert_all
        def die(self, *a, **k):
            if self.name == "article_topics":
                os._exit(9)  # the process dies with the transaction open
            return original(self, *a, **k)
        sqlite_utils.db.Table.insert_all = die
        now = datetime(2026, 11, 25, tzinfo=UTC)
        store.insert_article(db, Article(url="https://e.org/1", title="Half", source="s",
            published=now, text="body", topics={{"kazakhstan": 1.0}}), now)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    db = open_db(path)
    assert store.count_articles(db) == 0
    assert db["article_sources"].count == 0


def test_feed_state_round_trips(db):
    state = FeedState(
        url="https://timesca.com/feed/",
        name="TCA",
        etag='"abc"',
        last_modified="Tue, 24 Nov 2026",
        last_status="error",
        last_error="HTTP 503",
        failures=2,
        next_try=NOW,
        last_fetched=NOW,
    )
    save_feed_state(db, state)
    assert feed_states(db)["https://timesca.com/feed/"] == state


def test_rate_observations_are_kept_and_never_overwritten(db):
    day = date(2026, 11, 24)
    first = RateObservation("KZT", "USD", Decimal("0.00196"), "nbk", day)
    assert add_observations(db, [first], NOW) == 1
    assert add_observations(db, [first], NOW) == 0  # the same fact twice is stored once
    corrected = RateObservation("KZT", "USD", Decimal("0.00197"), "nbk", day)
    assert add_observations(db, [corrected], NOW + timedelta(hours=1)) == 1
    assert db["rates"].count == 2
    [latest] = history(db, "KZT")
    assert latest.value == Decimal("0.00197")
    assert isinstance(latest.value, Decimal)


def test_a_database_from_an_older_version_is_migrated_and_keeps_its_rows(tmp_path):
    import sqlite_utils

    from storage.db import migrate

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    for step in MIGRATIONS[:2]:  # a file written by the release with schema version 2
        step(old)
    old["meta"].insert({"key": "schema_version", "value": "2"}, pk="key")
    old["rates"].insert(
        {
            "currency": "KZT",
            "base": "USD",
            "value": "0.00196",
            "source": "nbk",
            "as_of": "2026-11-24",
            "fetched_at": "2026-11-24T09:00:00+00:00",
        }
    )
    old.close()
    db = open_db(path)
    assert schema_version(db) == len(MIGRATIONS) == 3
    [kept] = history(db, "KZT")
    assert kept.value == Decimal("0.00196") and kept.previous is None
    assert migrate(db) == 3  # running it again changes nothing

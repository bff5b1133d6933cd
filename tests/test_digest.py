"""Building a digest and rendering it as Telegram HTML, text and JSON."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.telegram_html import parse_html
from digest.build import UnknownTopicError, build_digest
from digest.config import load_config
from digest.render import render_html, render_json, render_text, visible_length
from storage import articles as store
from storage.db import open_db
from storage.rates import add_observations
from storage.records import Article, RateObservation

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="module")
def config():
    return load_config(env={})


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "news.db")


def add(db, n, topics, hours_ago=1, title=None, summary=None, sources=("Kun.uz",)):
    article = Article(
        url=f"https://example.org/{n}",
        title=title or f"Story number {n}",
        source=sources[0],
        published=NOW - timedelta(hours=hours_ago),
        text="Body.",
        summary=summary or f"Summary of story {n}. It has two sentences.",
        content_hash=str(n),
        topics=topics,
    )
    article_id = store.insert_article(db, article, NOW)
    for extra in sources[1:]:
        store.add_source(db, article_id, extra, f"https://{extra.lower()}.example/{n}", NOW)
    return article_id


def build(db, config, **kwargs):
    kwargs.setdefault("since", NOW - timedelta(hours=24))
    kwargs.setdefault("until", NOW)
    return build_digest(db, config, **kwargs)


def test_article_matching_two_topics_appears_once_under_its_strongest(db, config):
    add(db, 1, {"kazakhstan": 0.4, "energy": 0.9})
    digest = build(db, config, topics=["kazakhstan", "energy"])
    placed = [(s.key, a.id) for s in digest.sections for a in s.articles]
    assert placed == [("energy", 1)]


def test_sections_follow_the_requested_order_and_skip_empty_topics(db, config):
    add(db, 1, {"energy": 1.0})
    add(db, 2, {"uzbekistan": 1.0})
    digest = build(db, config, topics=["uzbekistan", "migration", "energy"])
    assert [s.key for s in digest.sections] == ["uzbekistan", "energy"]
    assert digest.sections[0].label == "Uzbekistan"


def test_articles_outside_the_window_are_left_out(db, config):
    add(db, 1, {"energy": 1.0}, hours_ago=30)
    add(db, 2, {"energy": 1.0}, hours_ago=2)
    digest = build(db, config, topics=["energy"])
    assert [a.id for a in digest.sections[0].articles] == [2]


def test_each_section_keeps_the_most_relevant_few(db, config):
    for n in range(1, 9):
        add(db, n, {"energy": n / 10})
    digest = build(db, config, topics=["energy"], per_topic=3)
    assert [a.id for a in digest.sections[0].articles] == [8, 7, 6]


def test_story_carried_by_several_sources_ranks_higher(db, config):
    add(db, 1, {"energy": 0.5})
    add(db, 2, {"energy": 0.5}, sources=("Kun.uz", "Eurasianet", "Daryo"))
    digest = build(db, config, topics=["energy"])
    assert digest.sections[0].articles[0].id == 2
    assert digest.sections[0].articles[0].sources == ["Kun.uz", "Eurasianet", "Daryo"]


def test_unknown_topic_is_refused(db, config):
    with pytest.raises(UnknownTopicError):
        build(db, config, topics=["sports"])


def test_rates_block_shows_value_and_change_within_one_source(db, config):
    add_observations(
        db,
        [
            RateObservation("KZT", "USD", Decimal("0.002000"), "nbk", date(2026, 11, 24)),
            RateObservation("KZT", "USD", Decimal("0.001990"), "nbk", date(2026, 11, 25)),
            # The cross rate through Moscow is another source: never compared with the bank's.
            RateObservation("KZT", "USD", Decimal("0.001950"), "cbr", date(2026, 11, 24)),
            RateObservation("UZS", "USD", Decimal("0.0000820"), "cbu", date(2026, 11, 25)),
        ],
        NOW,
    )
    digest = build(db, config, currencies=["KZT", "UZS", "KGS"])
    kzt, uzs = digest.rates
    assert (kzt.currency, kzt.source, kzt.previous) == ("KZT", "nbk", Decimal("0.002000"))
    assert kzt.change_pct == Decimal("-0.5")
    assert uzs.change_pct is None
    assert digest.missing_currencies == ["KGS"]
    text = render_text(digest)
    assert "KZT/USD" in text and "0.00199" in text and "-0.50%" in text
    assert "1 USD = 502.51 KZT" in text
    assert "0.0000820" in text and "1 USD = 12,195.12 UZS" in text
    assert "No rate stored for KGS" in text


def test_an_old_rate_is_shown_with_its_date(db, config):
    add_observations(
        db, [RateObservation("TJS", "USD", Decimal("0.0916"), "nbt", date(2026, 11, 18))], NOW
    )
    digest = build(db, config, currencies=["TJS"])
    assert digest.rates[0].stale
    assert "(as of 18 Nov 2026)" in render_text(digest)
    assert "as of 18 Nov" in render_html(digest)[0]


def test_html_escapes_markup_in_titles_and_summaries(db, config):
    add(
        db,
        1,
        {"energy": 1.0},
        title="Gas deal <script>alert(1)</script> & more",
        summary='Officials said "<b>" tags & ampersands must stay text.',
    )
    [message] = render_html(build(db, config, topics=["energy"]))
    assert "&lt;script&gt;" in message and "&amp; more" in message
    text, entities = parse_html(message)  # what Telegram's parser would accept
    assert "Gas deal <script>alert(1)</script> & more" in text
    assert 'Officials said "<b>" tags & ampersands must stay text.' in text
    assert {e.type for e in entities} <= {"bold", "italic", "text_link", "code"}


def test_long_digest_is_split_between_articles_within_telegram_limit(db, config):
    long_summary = ("The regional energy ministers agreed on a long list of measures. " * 6).strip()
    for n in range(1, 41):
        topic = ["energy", "economy", "politics", "transport"][n % 4]
        add(db, n, {topic: 1.0}, title=f"Headline {n:02d} about {topic}", summary=long_summary)
    digest = build(db, config, topics=["energy", "economy", "politics", "transport"], per_topic=10)
    messages = render_html(digest)
    assert len(messages) > 1
    seen = []
    for message in messages:
        assert visible_length(message) <= 4096
        text, _ = parse_html(message)
        seen.extend(line for line in text.splitlines() if line.startswith("Headline"))
    # Every article is whole in exactly one message, and none is lost or repeated.
    assert sorted(seen) == sorted(
        f"Headline {n:02d} about {['energy', 'economy', 'politics', 'transport'][n % 4]}"
        for n in range(1, 41)
    )
    assert any("(continued)" in m for m in messages[1:])


def test_article_without_a_web_address_is_shown_without_a_link(db, config):
    article = Article(
        url="urn:newsdigest:abc",
        title="Imported note",
        source="notes",
        published=NOW - timedelta(hours=1),
        text="x",
        summary="A note.",
        topics={"energy": 1.0},
    )
    store.insert_article(db, article, NOW)
    [message] = render_html(build(db, config, topics=["energy"]))
    assert "urn:newsdigest" not in message
    assert "<b>Imported note</b>" in message


def test_empty_digest_says_so(db, config):
    digest = build(db, config, topics=["energy"])
    assert "No new articles" in render_html(digest)[0]
    assert "No new articles" in render_text(digest)


def test_json_has_rates_sections_and_articles(db, config):
    add(db, 1, {"energy": 1.0}, sources=("Kun.uz", "Daryo"))
    add_observations(
        db,
        [RateObservation("TMT", "USD", Decimal("0.285714285714"), "cbtm-fixed", date(2026, 11, 1))],
        NOW,
    )
    data = json.loads(render_json(build(db, config, topics=["energy"], currencies=["TMT"])))
    assert data["rates"][0]["currency"] == "TMT"
    assert data["rates"][0]["inverse"] == "3.50"
    assert data["rates"][0]["stale"] is False  # a fixed rate does not age
    [section] = data["sections"]
    assert section["topic"] == "energy"
    assert section["articles"][0]["sources"] == ["Kun.uz", "Daryo"]

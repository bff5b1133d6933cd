from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.parse import FeedParseError, extract_article, is_teaser, parse_feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def feed_bytes(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss_entries_take_content_encoded_with_paragraphs():
    entries = parse_feed(feed_bytes("rss_content.xml"), "Steppe Wire")

    assert [e.title for e in entries] == [
        "Tashkent opens its third metro ring segment",
        "Dushanbe hosts regional water conference",
        "Bishkek council approves winter bus timetable",
    ]
    metro = entries[0]
    assert metro.source == "Steppe Wire"
    assert metro.url == "https://steppewire.example/news/2026/11/tashkent-metro-ring.html"
    assert metro.text.startswith("Three more stations of the Tashkent ring line opened")
    assert metro.text.count("\n\n") == 2
    assert "trackView" not in metro.text
    assert metro.tags == ["Uzbekistan", "Transport"]
    assert not metro.is_teaser


def test_rss_dates_become_aware_utc():
    entries = parse_feed(feed_bytes("rss_content.xml"), "Steppe Wire")

    assert [e.published for e in entries] == [
        datetime(2026, 11, 3, 9, 15, tzinfo=UTC),
        datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 12, 40, tzinfo=UTC),
    ]


def test_short_item_ending_in_read_more_is_a_teaser_without_the_marker():
    bus = parse_feed(feed_bytes("rss_content.xml"), "Steppe Wire")[2]

    assert bus.is_teaser
    assert bus.text == "The new timetable starts on 15 November."


def test_atom_entries_use_html_content_and_category_labels():
    avaza, ferry = parse_feed(feed_bytes("atom.xml"), "Caspian Observer")

    assert avaza.title == "Turkmenistan\u2019s new Caspian resort road opens"
    assert avaza.url == "https://caspian-observer.example/2026/11/avaza-road"
    assert avaza.text.startswith("A new four-lane coastal road between the port city")
    assert avaza.text.count("\n\n") == 2
    assert avaza.published == datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    assert avaza.tags == ["Turkmenistan", "infrastructure"]
    assert not avaza.is_teaser


def test_atom_entry_without_published_falls_back_to_updated_and_reads_xhtml_summary():
    ferry = parse_feed(feed_bytes("atom.xml"), "Caspian Observer")[1]

    assert ferry.published == datetime(2026, 11, 2, 16, 45, tzinfo=UTC)
    assert ferry.text == (
        "Ferries between Aktau and Baku will sail on a reduced schedule from December while "
        "winter storms close the port for days at a time.\n\n"
        "Passengers are asked to check departures on the day of travel."
    )


def test_entries_without_a_usable_date_get_none_not_now():
    entries = parse_feed(feed_bytes("no_dates.xml"), "Ferghana Valley Notes")

    assert len(entries) == 2
    assert [e.published for e in entries] == [None, None]


def test_markup_and_entities_are_stripped_from_titles():
    titles = [e.title for e in parse_feed(feed_bytes("html_titles.xml"), "Silk Road Daily")]

    assert titles == [
        "Breaking: Samarkand & Bukhara add direct flights",
        "Almaty & Astana sign transport deal",
        'Tenge & som hold steady \u2014 "a calm week"',
    ]


def test_relative_links_resolve_against_the_feed_address():
    entries = parse_feed(
        feed_bytes("relative_links.xml"),
        "Astana",
        base_url="https://astana-day.example/rss/all.xml",
    )

    assert [e.url for e in entries] == [
        "https://astana-day.example/news/expo-district.html",
        "https://astana-day.example/rss/news/left-bank-park.html",
        "https://other.example/story/42",
    ]


def test_relative_links_fall_back_to_the_channel_link_without_a_base_url():
    entries = parse_feed(feed_bytes("relative_links.xml"), "Astana")

    assert entries[0].url == "https://astana-day.example/news/expo-district.html"


def test_duplicates_within_a_feed_keep_the_first_copy():
    entries = parse_feed(feed_bytes("duplicates.xml"), "Kyrgyz Wire")

    assert [e.title for e in entries] == [
        "Issyk-Kul tourist season closes (updated)",
        "Naryn road reopens after landslide",
        "Osh airport terminal gets new runway lights",
    ]
    assert entries[1].url == "https://kyrgyz-wire.example/n/102"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/rss+xml; charset=windows-1251", "text/xml", "application/xml"],
)
def test_windows_1251_feed_decodes_cyrillic(content_type):
    data = feed_bytes("cp1251.xml")
    assert "Бишкек".encode("cp1251") in data  # the fixture really is cp1251

    bridge, som = parse_feed(data, "Новости Бишкека", content_type=content_type)

    assert bridge.title == "В Бишкеке открылся новый пешеходный мост через Аламедин"
    assert bridge.text == (
        "Мост соединил два жилых массива на востоке столицы.\n\n"
        "Жители говорят, что дорога до школы теперь занимает «десять минут вместо получаса»."
    )
    assert bridge.tags == ["Кыргызстан"]
    assert bridge.published == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    assert som.is_teaser
    assert som.text == "Национальный банк сообщил, что торги прошли спокойно."


def test_truncated_feed_yields_the_items_before_the_cut():
    entries = parse_feed(feed_bytes("truncated.xml"), "Turkmen Daily Brief")

    assert [e.title for e in entries] == [
        "Ashgabat marathon draws record field",
        "Mary cotton harvest nears its target",
    ]


def test_feed_cut_before_any_item_is_an_error():
    data = feed_bytes("truncated.xml")
    cut = data[: data.index(b"<item>") + 20]

    with pytest.raises(FeedParseError, match="Turkmen Daily Brief is not a readable RSS or Atom"):
        parse_feed(cut, "Turkmen Daily Brief")


def test_html_error_page_is_refused_with_a_clear_message():
    with pytest.raises(FeedParseError) as caught:
        parse_feed(feed_bytes("error_page.html"), "Steppe Wire", content_type="text/html")

    assert str(caught.value) == "Steppe Wire returned an HTML page, not a feed"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "returned an empty response"),
        (b"  \n ", "returned an empty response"),
        (b"Service unavailable", "is not a readable RSS or Atom feed"),
        (b'{"items": []}', "is not a readable RSS or Atom feed"),
        (b"\x00\xff\xfe\x13garbage", "is not a readable RSS or Atom feed"),
        (b"\xef\xbb\xbf<?xml version='1.0'?>\n<!DOCTYPE html><html></html>", "an HTML page"),
    ],
)
def test_unusable_bytes_raise_feed_parse_error(data, message):
    with pytest.raises(FeedParseError, match=message):
        parse_feed(data, "Some Feed")


def test_well_formed_feed_without_items_is_empty_not_an_error():
    data = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'

    assert parse_feed(data, "Quiet") == []


def test_entries_without_title_or_link_are_skipped():
    data = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><description>Orphan text with neither title nor link.</description></item>
    <item><title>Only a title</title></item>
    </channel></rss>"""

    entries = parse_feed(data, "T")

    assert [(e.title, e.url) for e in entries] == [("Only a title", None)]


def test_teaser_feed_item_is_flagged_with_its_cut_marker_kept():
    (entry,) = parse_feed(
        feed_bytes("teaser.xml"), "Steppe Wire", base_url="https://steppewire.example/rss"
    )

    assert entry.is_teaser
    assert entry.url == "https://steppewire.example/news/2026/11/caspian-aktau.html"
    assert entry.text.endswith("falling sea [...]")  # NFKC spells the ellipsis out


def test_teaser_threshold_is_a_parameter():
    entries = parse_feed(feed_bytes("no_dates.xml"), "Ferghana Valley Notes", teaser_chars=100)

    assert [e.is_teaser for e in entries] == [False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 600, False),
        ("x" * 600 + " [...]", True),
        ("x" * 600 + " [\u2026]", True),
        ("x" * 600 + "...", True),
        ("x" * 600 + " Read more \u00bb", True),
        ("x" * 600 + " Continue reading", True),
        ("x" * 600 + " Читать далее", True),
        ("Short.", True),
        ("", True),
    ],
)
def test_is_teaser(text, expected):
    assert is_teaser(text) is expected


def test_extract_article_keeps_the_body_and_drops_page_furniture():
    page = feed_bytes("article_page.html")

    article = extract_article(page, "https://steppewire.example/news/a.html", "Steppe Wire")

    assert article is not None
    assert article.title == "Caspian retreat leaves Aktau port chasing deeper water"
    assert article.url == "https://steppewire.example/news/a.html"
    assert article.source == "Steppe Wire"
    assert article.published == datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 5
    assert paragraphs[0].startswith("The Caspian Sea keeps retreating")
    assert paragraphs[-1].startswith("Freight forwarders are watching closely.")
    for furniture in ("Subscribe", "Read also", "All rights reserved", "Photo:", "By Aigerim"):
        assert furniture not in article.text
    assert not article.is_teaser


def test_extract_article_accepts_text_and_no_url():
    page = feed_bytes("article_page.html").decode("utf-8")

    article = extract_article(page, None, "saved page")

    assert article is not None
    assert article.url is None
    assert "Caspian retreat" not in article.text.split("\n\n")[0]


@pytest.mark.parametrize(
    "page",
    [b"", "   ", feed_bytes("error_page.html"), "<html><body><nav>Home</nav></body></html>"],
)
def test_extract_article_returns_none_without_an_article_body(page):
    assert extract_article(page, "https://steppewire.example/x", "Steppe Wire") is None

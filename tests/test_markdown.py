import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from digest.markdown import MarkdownImportError, parse_markdown

FIXTURES = Path(__file__).parent / "fixtures" / "import"
COUNTRIES = ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Uzbekistan", "Turkmenistan")
HOME_SOURCES = {"KZT": "nbk", "KGS": "nbkr", "UZS": "cbu", "TJS": "nbt", "TMT": "cbtm-fixed"}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def sample(name: str) -> str:
    return resources.files("digest").joinpath(f"sample/{name}").read_text(encoding="utf-8")


def one_article(header: str, body: str = "Body text.") -> str:
    return f"# Title\n{header}\n\n{body}\n"


def test_each_level_one_heading_starts_a_new_article():
    entries = parse_markdown(fixture("two_articles.md"), "Default")

    assert [e.title for e in entries] == ["First story", "Second story", "Third story"]
    assert entries[0].text == (
        "The first paragraph wraps onto a second line.\n\nThe second paragraph."
    )
    assert entries[2].text == "Only paragraph."


def test_metadata_lines_fill_date_source_and_url():
    first, _, third = parse_markdown(fixture("two_articles.md"), "Default")

    assert first.published == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert first.source == "Example Wire"
    assert first.url == "https://example.org/first"
    assert third.url == "https://example.org/third"
    assert third.source == "Default"


def test_article_without_metadata_gets_default_source_no_url_and_no_date():
    second = parse_markdown(fixture("two_articles.md"), "Default")[1]

    assert (second.source, second.url, second.published) == ("Default", None, None)


def test_metadata_lines_after_the_first_paragraph_are_body_text():
    second = parse_markdown(fixture("two_articles.md"), "Default")[1]

    assert second.text.endswith("\n\nSource: this line comes after the body, so it is text.")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
        ("2026-11-23 09:30", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("2026-11-23T09:30:00+05:00", datetime(2026, 11, 23, 4, 30, tzinfo=UTC)),
        ("2026-11-23T09:30:00Z", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("2026-11-22T23:30:00-05:00", datetime(2026, 11, 23, 4, 30, tzinfo=UTC)),
    ],
)
def test_every_date_form_is_read_as_aware_utc(value, expected):
    (entry,) = parse_markdown(one_article(f"Date: {value}"), "Default")

    assert entry.published == expected
    assert entry.published.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value", ["23.11.2026", "yesterday", "2026-13-45", ""])
def test_unreadable_date_leaves_the_article_undated_with_a_warning(value, caplog):
    with caplog.at_level(logging.WARNING, logger="digest.markdown"):
        (entry,) = parse_markdown(one_article(f"Date: {value}"), "Default")

    assert entry.published is None
    assert entry.text == "Body text."
    assert "cannot read date" in caplog.text


def test_metadata_keys_are_case_insensitive_and_may_be_separated_by_blank_lines():
    header = "DATE: 2026-11-23\n\nsOuRcE: Wire\n\n\nUrl: https://example.org/x"
    (entry,) = parse_markdown(one_article(header), "Default")

    assert entry.published == datetime(2026, 11, 23, tzinfo=UTC)
    assert (entry.source, entry.url) == ("Wire", "https://example.org/x")


def test_subheadings_stay_inside_the_article_as_paragraphs_without_hashes():
    (entry,) = parse_markdown(fixture("subheadings.md"), "Default")

    assert entry.text.split("\n\n") == [
        "The budget passed on Monday.",
        "Spending",
        "Spending on roads rises.",
        "Details",
        "Most of it goes to the regions.",
    ]


def test_inline_markup_is_stripped_to_plain_text():
    (entry,) = parse_markdown(fixture("markup.md"), "Default")

    assert entry.title == "Bold title with code and a link"
    assert entry.text.split("\n\n") == [
        "Text with bold, strong, em, em and inline code.",
        "A link with text and gone.",
        "Quoted line one continues here.",
        "first item",
        "second item",
        "third item",
        "numbered one",
        "numbered two",
        "Keep snake_case_names, 2 * 3 * 4 and a lone * star.",
    ]


def test_hash_lines_inside_code_fences_are_not_headings():
    entries = parse_markdown(fixture("code_fence.md"), "Default")

    assert [e.title for e in entries] == ["Setting up the bot", "Second article"]
    assert "# install the bot" in entries[0].text
    assert "# still code" in entries[0].text
    assert entries[0].text.endswith("After the fence, the article goes on.\n\n# still code")


def test_bom_and_crlf_line_endings_parse_like_plain_text():
    plain = fixture("two_articles.md")
    windows = "\ufeff" + plain.replace("\n", "\r\n")

    assert windows.startswith("\ufeff# First story\r\n")
    assert parse_markdown(windows, "Default") == parse_markdown(plain, "Default")


def test_text_without_a_level_one_heading_raises():
    with pytest.raises(MarkdownImportError, match="no level-1 heading"):
        parse_markdown(fixture("no_headings.md"), "Default")


def test_empty_text_raises():
    with pytest.raises(MarkdownImportError):
        parse_markdown("", "Default")


def test_headings_without_a_body_are_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="digest.markdown"):
        entries = parse_markdown(fixture("empty_articles.md"), "Default")

    assert [e.title for e in entries] == ["Real article"]
    assert "'Heading without body'" in caplog.text
    assert "'Image only'" in caplog.text


def test_sample_articles_are_complete():
    entries = parse_markdown(sample("articles.md"), "Sample")

    assert len(entries) >= 20
    for entry in entries:
        assert entry.title, entry
        assert entry.published is not None, entry.title
        assert entry.source != "Sample", entry.title
        assert entry.url and entry.url.startswith("https://example.org/sample/"), entry.title
        assert len(entry.text.split("\n\n")) >= 3, entry.title
    assert len({e.url for e in entries}) == len(entries)


def test_sample_articles_mention_each_country_in_some_title():
    titles = " ".join(e.title for e in parse_markdown(sample("articles.md"), "Sample"))

    for country in COUNTRIES:
        assert country in titles, country


def test_sample_rates_are_positive_decimals_with_a_month_of_home_observations():
    rows = json.loads(sample("rates.json"))

    for row in rows:
        assert set(row) == {"currency", "base", "value", "source", "as_of"}, row
        assert row["base"] == "USD"
        assert isinstance(row["value"], str), row
        assert Decimal(row["value"]) > 0, row
    for currency, source in HOME_SOURCES.items():
        home = [r for r in rows if r["currency"] == currency and r["source"] == source]
        assert len(home) >= 20, currency
        assert max(r["as_of"] for r in home) == "2026-11-25", currency


def test_sample_turkmen_manat_is_the_fixed_official_rate():
    rows = json.loads(sample("rates.json"))
    tmt = [Decimal(r["value"]) for r in rows if r["currency"] == "TMT"]

    assert tmt
    for value in tmt:
        assert value.quantize(Decimal("1e-12")) == (Decimal(1) / Decimal("3.5")).quantize(
            Decimal("1e-12")
        )

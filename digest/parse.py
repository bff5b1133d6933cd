"""Turning fetched bytes into entries: RSS and Atom feeds, and single article pages. No I/O here."""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import trafilatura

from digest.models import Entry
from digest.text import html_to_text, normalize, normalize_line

log = logging.getLogger(__name__)


class FeedParseError(ValueError):
    """The bytes are not a usable feed; the message is one sentence naming the source."""


# feedparser flags these on feeds it read perfectly well, so they never make a feed unusable.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)

_PROLOG = re.compile(r"^\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*", re.DOTALL)
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_READ_MORE = re.compile(
    r"\s*[\[(«»›>|–—-]*\s*\b(?:read more|continue reading|read the full (?:story|article)|"
    r"читать (?:далее|полностью)|подробнее)\b[\s\W]*$",
    re.IGNORECASE,
)
_CUT_MARKER = re.compile(r"(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.\.\.)\s*$")


def parse_feed(
    data: bytes,
    source: str,
    base_url: str | None = None,
    content_type: str | None = None,
    *,
    teaser_chars: int = 500,
) -> list[Entry]:
    """Read the entries of an RSS or Atom feed.

    `source` names the feed in entries and error messages; `base_url` is the address the bytes came
    from (relative links are resolved against it, then against the feed's own link);
    `content_type` is the HTTP Content-Type, whose charset helps decoding. Entries whose text is
    shorter than `teaser_chars` or ends in a "read more" marker are flagged as teasers. A feed cut
    off mid-way still gives the entries read before the cut. Raises FeedParseError when nothing
    usable came out.
    """
    if not data or not data.strip():
        raise FeedParseError(f"{source} returned an empty response, not a feed")
    if _looks_like_html(data):
        raise FeedParseError(f"{source} returned an HTML page, not a feed")
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if base_url:
        headers["content-location"] = base_url
    # A stream, never the bytes themselves: feedparser first tries to open bytes as a file name.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    broken = parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), _HARMLESS_BOZO)
    if not parsed.entries and (broken or not parsed.get("version")):
        if content_type and "html" in content_type.lower():
            raise FeedParseError(f"{source} returned an HTML page, not a feed")
        raise FeedParseError(f"{source} is not a readable RSS or Atom feed ({_reason(parsed)})")
    base = base_url or parsed.feed.get("link")
    entries = _unique(
        entry
        for raw in parsed.entries
        if (entry := _entry(raw, source, base, teaser_chars)) is not None
    )
    if not entries and broken:
        raise FeedParseError(f"{source} is not a readable RSS or Atom feed ({_reason(parsed)})")
    if broken:
        log.info(
            "%s: feed is malformed, kept the %d entries read before the error: %s",
            source,
            len(entries),
            _reason(parsed),
        )
    return entries


def extract_article(
    html: bytes | str, url: str | None, source: str, *, min_chars: int = 150
) -> Entry | None:
    """The article on an HTML page as an entry: title, date and body text without menus.

    The headline is not repeated as the first paragraph. Returns None when the page holds no
    article body of at least `min_chars` characters. Works only on the given markup, never fetches.
    """
    if not html or not html.strip():
        return None
    try:
        raw = trafilatura.extract(
            html,
            url=url,
            output_format="json",
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
        )
    except Exception:  # trafilatura and its helpers raise assorted errors on odd markup
        log.warning("%s: article extraction failed for %s", source, url or "a page", exc_info=True)
        return None
    if not raw:
        return None
    doc: dict[str, Any] = json.loads(raw)
    title = normalize_line(doc.get("title") or "")
    paragraphs = [
        p for p in (normalize_line(line) for line in (doc.get("text") or "").split("\n")) if p
    ]
    if paragraphs and title and _same_line(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    text = "\n\n".join(paragraphs)
    if len(text) < min_chars:
        return None
    page_url = url or doc.get("source")
    return Entry(
        title=title,
        url=page_url if _is_web_url(page_url) else None,
        source=source,
        text=text,
        published=_page_date(doc.get("date")),
        tags=_clean_tags(
            t for field in ("categories", "tags") for t in (doc.get(field) or "").split(",")
        ),
    )


def is_teaser(text: str, teaser_chars: int = 500) -> bool:
    """True when `text` is shorter than `teaser_chars` or ends like a cut-off teaser."""
    return len(text) < teaser_chars or bool(_READ_MORE.search(text) or _CUT_MARKER.search(text))


def _entry(raw: Any, source: str, base: str | None, teaser_chars: int) -> Entry | None:
    title = normalize_line(raw.get("title") or "")
    url = _absolute(raw.get("link"), base)
    if not title and not url:
        return None
    text = _entry_text(raw)
    teaser = is_teaser(text, teaser_chars)
    return Entry(
        title=title,
        url=url,
        source=source,
        text=_READ_MORE.sub("", text).strip() if teaser else text,
        published=_entry_date(raw),
        is_teaser=teaser,
        tags=_clean_tags(
            tag.get("label") or tag.get("term") or "" for tag in raw.get("tags") or []
        ),
    )


def _entry_text(raw: Any) -> str:
    """The longest of the entry's content blocks and summary, as plain text with paragraphs."""
    details = list(raw.get("content") or [])
    if raw.get("summary_detail"):
        details.append(raw["summary_detail"])
    texts = [_detail_text(d) for d in details]
    return max(texts, key=len, default="")


def _detail_text(detail: Any) -> str:
    value = detail.get("value") or ""
    if "html" in (detail.get("type") or "text/html"):
        return html_to_text(value)
    return normalize(value)


def _absolute(link: str | None, base: str | None) -> str | None:
    if not link:
        return None
    link = link.strip()
    if base:
        link = urljoin(base, link)
    return link if _is_web_url(link) else None


def _is_web_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _entry_date(raw: Any) -> datetime | None:
    """Publication date, else last update, as aware UTC; None when the feed gave neither."""
    # Plain dict lookups: feedparser's own mapping of a missing "updated" warns on every call.
    value = dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _clean_tags(tags: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for tag in tags:
        tag = normalize_line(tag)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            result.append(tag)
    return result


def _unique(entries: Iterable[Entry]) -> list[Entry]:
    """Keep the first of entries sharing a link, or sharing both title and (non-empty) text."""
    seen_links: set[str] = set()
    seen_bodies: set[tuple[str, str]] = set()
    result = []
    for entry in entries:
        body = (entry.title.casefold(), entry.text)
        if (entry.url and entry.url in seen_links) or (entry.text and body in seen_bodies):
            continue
        if entry.url:
            seen_links.add(entry.url)
        if entry.text:
            seen_bodies.add(body)
        result.append(entry)
    return result


def _same_line(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _looks_like_html(data: bytes) -> bool:
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        start = head.decode("utf-16", errors="ignore")
    else:
        start = head.decode("latin-1")
    start = _PROLOG.sub("", start.lstrip("\ufeff\xef\xbb\xbf"), count=1)
    return bool(_HTML_START.match(start))


def _reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "no RSS or Atom elements found"
    reason = getattr(exc, "getMessage", lambda: str(exc))()
    return str(reason).rstrip(".") or type(exc).__name__

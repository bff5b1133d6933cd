"""Importing articles from a Markdown file: one `# ` heading per article, plain text out.

The format::

    # Title of the article
    Date: 2026-11-23 09:30
    Source: Example News
    URL: https://example.org/a

    First paragraph, **markup** and [links](https://example.org) allowed.

    ## A subheading

    - a list item

Metadata lines (`Date`, `Source`, `URL`, any case) count only between the heading and the first body
paragraph. Lines inside fenced code blocks are never headings.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.models import Entry
from digest.text import normalize

logger = logging.getLogger(__name__)

_HEADING = re.compile(r"^# (.*)$")
_SUBHEADING = re.compile(r"^#{2,6}(?:\s+(.*?))?\s*$")
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")
_METADATA = re.compile(r"^(date|source|url)\s*:\s*(.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
_BLOCKQUOTE = re.compile(r"^ {0,3}>\s?")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(.*)$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PLACEHOLDER = re.compile(r"\ue000(\d+)\ue001")
_IMAGE = re.compile(r"!\[[^\]]*\](?:\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\s*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


class MarkdownImportError(ValueError):
    """The file cannot be read as articles at all."""


@dataclass
class _Article:
    title: str
    line: int
    metadata: dict[str, str] = field(default_factory=dict)
    in_body: bool = False
    paragraphs: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    code: list[str] | None = None
    fence: str = ""

    def flush(self) -> None:
        if self.current:
            self.paragraphs.append(strip_inline(" ".join(self.current)))
            self.current = []

    def add_paragraph(self, text: str) -> None:
        self.flush()
        self.paragraphs.append(text)


def parse_markdown(text: str, default_source: str) -> list[Entry]:
    """Articles of a Markdown document, one per level-1 heading, in file order.

    `text` is the whole file (a BOM and CRLF line endings are fine); `default_source` names the
    source of articles without a `Source:` line. Articles without a body are skipped with a logged
    warning. Raises MarkdownImportError when the text has no `# ` heading at all.
    """
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    articles: list[_Article] = []
    article: _Article | None = None
    preamble = False
    for number, line in enumerate(lines, start=1):
        if article is not None and article.code is not None:
            _code_line(article, line)
            continue
        heading = _HEADING.match(line)
        if heading:
            if article is not None:
                article.flush()
            article = _Article(title=_title(heading.group(1)), line=number)
            articles.append(article)
        elif article is None:
            preamble = preamble or bool(line.strip())
        else:
            _body_line(article, line)
    if article is not None and article.code is not None:
        logger.warning("Code block opened in article %r is never closed", article.title)
        article.add_paragraph(normalize("\n".join(article.code)))
    if article is not None:
        article.flush()
    if not articles:
        raise MarkdownImportError(
            "The Markdown file has no level-1 heading ('# Title'), so it holds no articles."
        )
    if preamble:
        logger.warning("Ignored the text before the first '# ' heading")
    entries = (_entry(article, default_source) for article in articles)
    return [entry for entry in entries if entry is not None]


def strip_inline(text: str) -> str:
    """`text` without Markdown inline markup: emphasis and code spans unwrapped, links reduced to
    their text, images dropped."""
    kept: list[str] = []
    text = text.replace("\ue000", "").replace("\ue001", "")

    def hold(value: str) -> str:
        kept.append(value)
        return f"\ue000{len(kept) - 1}\ue001"

    text = _CODE_SPAN.sub(lambda m: hold(m.group(2).strip()), text)
    text = _ESCAPE.sub(lambda m: hold(m.group(1)), text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    for pattern in (_STRONG, _STRIKE):
        text = pattern.sub(lambda m: m.group(m.lastindex), text)
    text = _EM_STAR.sub(r"\1", text)
    text = _EM_UNDERSCORE.sub(r"\1", text)
    return _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], text)


def parse_date(value: str) -> datetime | None:
    """`YYYY-MM-DD`, `YYYY-MM-DD HH:MM` (taken as UTC) or ISO 8601 with offset; in UTC or None."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _title(raw: str) -> str:
    return " ".join(normalize(strip_inline(_CLOSING_HASHES.sub("", raw))).split())


def _code_line(article: _Article, line: str) -> None:
    assert article.code is not None
    if not _closes_fence(line, article.fence):
        article.code.append(line)
        return
    code, article.code = article.code, None
    if any(part.strip() for part in code):
        article.add_paragraph(normalize("\n".join(code)))


def _closes_fence(line: str, opening: str) -> bool:
    fence = _FENCE.match(line)
    if not fence or line[fence.end() :].strip():
        return False
    marker = fence.group(1)
    return marker[0] == opening[0] and len(marker) >= len(opening)


def _body_line(article: _Article, line: str) -> None:
    if not article.in_body:
        if not line.strip():
            return
        metadata = _METADATA.match(line.strip())
        if metadata:
            article.metadata[metadata.group(1).lower()] = metadata.group(2).strip()
            return
        article.in_body = True
    quote = _BLOCKQUOTE.match(line)
    while quote:
        line = line[quote.end() :]
        quote = _BLOCKQUOTE.match(line)
    fence = _FENCE.match(line)
    if fence:
        article.flush()
        article.code, article.fence = [], fence.group(1)
    elif not line.strip() or _RULE.match(line) or _LINK_DEFINITION.match(line):
        article.flush()
    elif subheading := _SUBHEADING.match(line):
        article.add_paragraph(_title(subheading.group(1) or ""))
    elif item := _LIST_ITEM.match(line):
        article.flush()
        article.current.append(item.group(1))
    else:
        article.current.append(line.strip())


def _entry(article: _Article, default_source: str) -> Entry | None:
    paragraphs = [normalize(p) for p in article.paragraphs]
    body = "\n\n".join(p for p in paragraphs if p)
    if not article.title:
        logger.warning("Skipped a '# ' heading without a title on line %d", article.line)
        return None
    if not body:
        logger.warning("Skipped article %r (line %d): it has no body", article.title, article.line)
        return None
    published = None
    if "date" in article.metadata:
        published = parse_date(article.metadata["date"])
        if published is None:
            logger.warning(
                "Article %r (line %d): cannot read date %r, leaving it undated",
                article.title,
                article.line,
                article.metadata["date"],
            )
    return Entry(
        title=article.title,
        url=article.metadata.get("url") or None,
        source=article.metadata.get("source") or default_source,
        text=body,
        published=published,
    )

"""Reading articles from local files: RSS/Atom XML, a saved HTML article page, or Markdown."""

from __future__ import annotations

from pathlib import Path

from digest.markdown import MarkdownImportError, parse_markdown
from digest.models import Entry
from digest.parse import FeedParseError, extract_article, parse_feed


class ImportFileError(ValueError):
    """A file that holds no importable article; the message names the file and the reason."""


def _kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown", ".txt"):
        return "markdown"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in (".xml", ".rss", ".atom"):
        return "feed"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf")):
        return "feed"
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "markdown"


def _decode_text(path: Path, data: bytes) -> str:
    """Text of a Markdown file: UTF-8 or UTF-16 with a BOM, UTF-8, else the region's cp1251."""
    if b"\x00" in data[:1024] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(f"{path}: this is a binary file, not Markdown, a feed or a page")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: the text is neither UTF-8 nor windows-1251") from None


def read_entries(path: Path, source: str | None = None) -> list[Entry]:
    """Entries of one file, by its kind; the source defaults to the file's name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    source = source or path.stem
    kind = _kind(path, data[:200])
    try:
        if kind == "feed":
            return parse_feed(data, source)
        if kind == "html":
            entry = extract_article(data, None, source)
            if entry is None:
                raise ImportFileError(f"{path}: no article text could be found in the page")
            return [entry]
        return parse_markdown(_decode_text(path, data), default_source=source)
    except (FeedParseError, MarkdownImportError) as exc:
        raise ImportFileError(f"{path}: {exc}") from None

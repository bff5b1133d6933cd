"""Turning markup into clean plain text: paragraphs kept, whitespace and Unicode normalised."""

from __future__ import annotations

import html
import re
import unicodedata

from lxml import html as lxml_html
from lxml.etree import ParserError

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "tr",
    "table",
    "figure",
    "pre",
}
_DROP_TAGS = {"script", "style", "noscript", "iframe", "form", "nav", "aside", "figcaption", "svg"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")


def normalize(text: str) -> str:
    """NFKC, no zero-width or soft-hyphen characters, single spaces, paragraphs split by one blank line."""
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        line = _SPACES.sub(" ", " ".join(block.split("\n"))).strip()
        if line:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


def normalize_line(text: str) -> str:
    """One line of text (a title): markup removed, entities decoded, whitespace collapsed."""
    text = html_to_text(text) if "<" in text and ">" in text else html.unescape(text)
    return " ".join(normalize(text).split())


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment, one paragraph per block element."""
    if not markup or not markup.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (ParserError, ValueError):
        return normalize(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree() if bad.getparent() is not None else None
    parts: list[str] = []
    _walk(root, parts)
    return normalize("".join(parts))


def _walk(node, parts: list[str]) -> None:
    tag = node.tag if isinstance(node.tag, str) else ""
    block = tag.lower() in _BLOCK_TAGS
    if block:
        parts.append("\n\n")
    if tag.lower() == "li":
        # Keep the marker: the summarizer must be able to tell a list item from a sentence.
        parts.append("- ")
    if node.text and tag:
        parts.append(node.text)
    for child in node:
        _walk(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n\n")

"""Rendering a digest: Telegram HTML split into messages, plain text for the terminal, JSON."""

from __future__ import annotations

import html
import json
import re
import textwrap
from datetime import datetime
from typing import Any

from digest.build import Digest, DigestSection
from digest.providers.registry import PROVIDERS, source_title
from digest.rates import RateLine, format_change, format_inverse, format_value
from storage.records import Article

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def esc(text: str) -> str:
    """Escape text for Telegram HTML: <, >, & and quotes."""
    return html.escape(text, quote=True)


def visible_length(message: str) -> int:
    """Length Telegram checks: text after entity parsing, in UTF-16 code units."""
    return len(html.unescape(_TAG.sub("", message)).encode("utf-16-le")) // 2


def has_link(article: Article) -> bool:
    return article.url.startswith(("http://", "https://"))


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC")


def _window(digest: Digest) -> str:
    start = "%d %b %H:%M" if digest.since.year == digest.until.year else "%d %b %Y %H:%M"
    return f"{digest.since.strftime(start)} – {digest.until:%d %b %Y %H:%M} UTC"


def source_label(source: str) -> str:
    """A short name for a rate's source: NBK, CBR, or "fixed" for an official fixed rate."""
    provider = PROVIDERS.get(source)
    if provider is not None and not provider.needs_http:
        return "fixed"
    return source.upper()


def _rate_html(line: RateLine) -> str:
    pair = f"{line.currency}/{line.base}"
    text = (
        f"<code>{esc(pair)} {format_value(line.value)} {format_change(line.change_pct)}</code>"
        f"  1 {esc(line.base)} = {format_inverse(line.value)} {esc(line.currency)}"
        f" <i>{esc(source_label(line.source))}</i>"
    )
    if line.stale:
        text += f" <i>(as of {line.as_of:%d %b})</i>"
    return text


def _rate_text(line: RateLine) -> str:
    pair = f"{line.currency}/{line.base}"
    text = (
        f"{pair:<8} {format_value(line.value):>10} {format_change(line.change_pct):>8}"
        f"   1 {line.base} = {format_inverse(line.value)} {line.currency}"
        f"   {source_title(line.source)}"
    )
    if line.stale:
        text += f"  (as of {line.as_of:%d %b %Y})"
    return text


def _rates_heading(lines: list[RateLine]) -> str:
    return f"Rates (value of one unit in {lines[0].base}, change on the previous fixing)"


def render_rates_text(lines: list[RateLine]) -> str:
    """The rates block for a terminal."""
    if not lines:
        return "No rates stored.\n"
    return "\n".join([_rates_heading(lines), *(_rate_text(line) for line in lines)]) + "\n"


def render_rates_html(lines: list[RateLine]) -> str:
    """The rates block as one Telegram HTML message."""
    if not lines:
        return "No rates stored yet."
    return "\n".join([f"<b>{esc(_rates_heading(lines))}</b>", *(_rate_html(x) for x in lines)])


def render_rates_json(lines: list[RateLine]) -> str:
    return json.dumps([rate_dict(line) for line in lines], ensure_ascii=False, indent=2)


MAX_TITLE = 300  # a longer "title" is a body that lost its line breaks


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _article_html(article: Article, limit: int = TELEGRAM_LIMIT) -> str:
    title = esc(_short(article.title, MAX_TITLE))
    head = (
        f'<b><a href="{esc(article.url)}">{title}</a></b>'
        if has_link(article)
        else f"<b>{title}</b>"
    )
    meta = (
        f"<i>{esc(', '.join(article.sources or [article.source]))} · {_when(article.published)}</i>"
    )
    block = f"{head}\n{meta}"
    if article.summary:
        block += f"\n{esc(article.summary)}"
    while visible_length(block) > limit and article.summary:
        # Only a pathological article gets here; cut the summary on a word boundary.
        cut = article.summary[: max(0, len(article.summary) - (visible_length(block) - limit) - 2)]
        block = f"{head}\n{meta}\n{esc(cut.rsplit(' ', 1)[0])}…"
        if not cut:
            block = f"{head}\n{meta}"
            break
    return block


def header_html(digest: Digest) -> str:
    parts = [f"<b>{esc(digest.title)}</b>", f"<i>{esc(_window(digest))}</i>"]
    if digest.rates:
        parts.append("")
        parts.append(render_rates_html(digest.rates))
    if digest.missing_currencies:
        parts.append(f"<i>No rate stored for {esc(', '.join(digest.missing_currencies))}.</i>")
    if not digest.sections:
        parts.append("")
        parts.append("No new articles on your topics in this period.")
    return "\n".join(parts)


def render_html(digest: Digest, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Messages ready for sendMessage(parse_mode=HTML), each within `limit`, split between articles."""
    messages: list[str] = []
    current = header_html(digest)
    for section in digest.sections:
        heading = f"<b>{esc(section.label)}</b>"
        for i, article in enumerate(section.articles):
            block = _article_html(article, limit - visible_length(heading) - 4)
            piece = f"{heading}\n\n{block}" if i == 0 else block
            candidate = f"{current}\n\n{piece}" if current else piece
            if visible_length(candidate) <= limit:
                current = candidate
                continue
            messages.append(current)
            current = piece if i == 0 else f"<b>{esc(section.label)}</b> (continued)\n\n{block}"
    if current:
        messages.append(current)
    return messages


def _section_text(section: DigestSection, width: int) -> list[str]:
    lines = [section.label.upper(), "=" * len(section.label), ""]
    for article in section.articles:
        lines.append(textwrap.fill(_short(article.title, MAX_TITLE), width))
        lines.append(
            f"  {', '.join(article.sources or [article.source])} · {_when(article.published)}"
        )
        if article.summary:
            lines.append(
                textwrap.fill(article.summary, width, initial_indent="  ", subsequent_indent="  ")
            )
        if has_link(article):
            lines.append(f"  {article.url}")
        lines.append("")
    return lines


def render_text(digest: Digest, width: int = 88) -> str:
    """The digest for a terminal."""
    lines = [digest.title, _window(digest), ""]
    if digest.rates:
        lines.append(render_rates_text(digest.rates))
    if digest.missing_currencies:
        lines.append(f"No rate stored for {', '.join(digest.missing_currencies)}.")
        lines.append("")
    if not digest.sections:
        lines.append("No new articles on these topics in this period.")
    for section in digest.sections:
        lines.extend(_section_text(section, width))
    return "\n".join(lines).rstrip() + "\n"


def article_dict(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "sources": article.sources or [article.source],
        "published": article.published.isoformat(),
        "topics": article.topics,
        "summary": article.summary,
    }


def rate_dict(line: RateLine) -> dict[str, Any]:
    change = line.change_pct
    return {
        "currency": line.currency,
        "base": line.base,
        "value": str(line.value),
        "display": format_value(line.value),
        "inverse": format_inverse(line.value),
        "change_pct": None if change is None else str(round(change, 4)),
        "source": line.source,
        "source_title": source_title(line.source),
        "as_of": line.as_of.isoformat(),
        "stale": line.stale,
    }


def digest_dict(digest: Digest) -> dict[str, Any]:
    return {
        "title": digest.title,
        "since": digest.since.isoformat(),
        "until": digest.until.isoformat(),
        "language": digest.language,
        "rates": [rate_dict(line) for line in digest.rates],
        "missing_currencies": digest.missing_currencies,
        "sections": [
            {"topic": s.key, "label": s.label, "articles": [article_dict(a) for a in s.articles]}
            for s in digest.sections
        ],
    }


def render_json(digest: Digest) -> str:
    return json.dumps(digest_dict(digest), ensure_ascii=False, indent=2)

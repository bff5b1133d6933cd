"""Rendering a digest: Telegram HTML split into messages, plain text for the terminal, JSON."""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from babel.dates import format_date, format_datetime

from digest.build import Digest, DigestSection
from digest.providers.registry import PROVIDERS, source_title
from digest.rates import RateLine, format_change, format_inverse, format_value
from storage.records import Article

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Presentation:
    """How one reader sees a digest: interface language, its `_` translator, their time zone."""

    language: str = "en"
    tz: tzinfo = UTC
    gettext: Callable[[str], str] = field(default=_same)

    def when(self, moment: datetime) -> str:
        return format_datetime(moment.astimezone(self.tz), "d MMM HH:mm", locale=self.language)

    def day(self, value: date) -> str:
        return format_date(value, "d MMM y", locale=self.language)

    def zone(self) -> str:
        return "UTC" if self.tz is UTC else str(self.tz)


PLAIN = Presentation()


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


def _window(digest: Digest, style: Presentation = PLAIN) -> str:
    since, until = digest.since.astimezone(style.tz), digest.until.astimezone(style.tz)
    start = "d MMM HH:mm" if since.year == until.year else "d MMM y HH:mm"
    return (
        f"{format_datetime(since, start, locale=style.language)} – "
        f"{format_datetime(until, 'd MMM y HH:mm', locale=style.language)} {style.zone()}"
    )


def source_label(source: str) -> str:
    """A short name for a rate's source: NBK, CBR, or "fixed" for an official fixed rate."""
    provider = PROVIDERS.get(source)
    if provider is not None and not provider.needs_http:
        return "fixed"
    return source.upper()


def _rate_html(line: RateLine, style: Presentation = PLAIN) -> str:
    _ = style.gettext
    pair = f"{line.currency}/{line.base}"
    text = (
        f"<code>{esc(pair)} {format_value(line.value)} {format_change(line.change_pct)}</code>"
        f"  1 {esc(line.base)} = {format_inverse(line.value)} {esc(line.currency)}"
        f" <i>{esc(source_label(line.source))}</i>"
    )
    if line.stale:
        text += " <i>" + esc(_("(as of {day})").format(day=style.day(line.as_of))) + "</i>"
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


def _rates_heading(lines: list[RateLine], style: Presentation = PLAIN) -> str:
    _ = style.gettext
    return _("Rates (value of one unit in {base}, change on the previous fixing)").format(
        base=lines[0].base
    )


def render_rates_text(lines: list[RateLine]) -> str:
    """The rates block for a terminal."""
    if not lines:
        return "No rates stored.\n"
    return "\n".join([_rates_heading(lines), *(_rate_text(line) for line in lines)]) + "\n"


def render_rates_html(lines: list[RateLine], style: Presentation = PLAIN) -> str:
    """The rates block as one Telegram HTML message."""
    _ = style.gettext
    if not lines:
        return esc(_("No rates stored yet."))
    return "\n".join(
        [f"<b>{esc(_rates_heading(lines, style))}</b>", *(_rate_html(x, style) for x in lines)]
    )


def render_rates_json(lines: list[RateLine]) -> str:
    return json.dumps([rate_dict(line) for line in lines], ensure_ascii=False, indent=2)


MAX_TITLE = 300  # a longer "title" is a body that lost its line breaks


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _article_html(
    article: Article, limit: int = TELEGRAM_LIMIT, style: Presentation = PLAIN
) -> str:
    title = esc(_short(article.title, MAX_TITLE))
    head = (
        f'<b><a href="{esc(article.url)}">{title}</a></b>'
        if has_link(article)
        else f"<b>{title}</b>"
    )
    sources = ", ".join(article.sources or [article.source])
    meta = f"<i>{esc(sources)} · {esc(style.when(article.published))}</i>"
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


def header_html(digest: Digest, style: Presentation = PLAIN) -> str:
    _ = style.gettext
    parts = [f"<b>{esc(digest.title)}</b>", f"<i>{esc(_window(digest, style))}</i>"]
    if digest.rates:
        parts.append("")
        parts.append(render_rates_html(digest.rates, style))
    if digest.missing_currencies:
        missing = _("No rate stored for {codes}.").format(
            codes=", ".join(digest.missing_currencies)
        )
        parts.append(f"<i>{esc(missing)}</i>")
    if not digest.sections:
        parts.append("")
        parts.append(esc(_("No new articles on your topics in this period.")))
    return "\n".join(parts)


def render_html(
    digest: Digest, limit: int = TELEGRAM_LIMIT, style: Presentation = PLAIN
) -> list[str]:
    """Messages ready for sendMessage(parse_mode=HTML), each within `limit`, split between articles."""
    _ = style.gettext
    messages: list[str] = []
    current = header_html(digest, style)
    for section in digest.sections:
        heading = f"<b>{esc(section.label)}</b>"
        more = _("(continued)")
        continued = f"<b>{esc(section.label)}</b> {esc(more)}"
        for i, article in enumerate(section.articles):
            block = _article_html(article, limit - visible_length(continued) - 4, style)
            piece = f"{heading}\n\n{block}" if i == 0 else block
            candidate = f"{current}\n\n{piece}" if current else piece
            if visible_length(candidate) <= limit:
                current = candidate
                continue
            messages.append(current)
            current = piece if i == 0 else f"{continued}\n\n{block}"
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


def render_headlines(
    heading: str,
    articles: list[Article],
    style: Presentation = PLAIN,
    limit: int = TELEGRAM_LIMIT,
) -> str:
    """A short list of stories (for /news and /search): linked title, sources and time."""
    lines = [f"<b>{esc(heading)}</b>"]
    for article in articles:
        title = esc(_short(article.title, 200))
        link = f'<a href="{esc(article.url)}">{title}</a>' if has_link(article) else title
        sources = ", ".join(article.sources or [article.source])
        entry = f"\n• {link}\n  <i>{esc(sources)} · {esc(style.when(article.published))}</i>"
        if visible_length("\n".join(lines) + entry) > limit:
            break
        lines.append(entry)
    return "\n".join(lines)

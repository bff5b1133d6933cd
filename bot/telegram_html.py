"""Telegram's HTML parse mode, as strictly as Telegram applies it: the emulator's parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Tag -> entity type; Telegram accepts these and nothing else.
TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z][a-zA-Z0-9]*);?")


class TelegramHTMLError(ValueError):
    """What Telegram answers with 400 "Bad Request: can't parse entities: ..."."""


@dataclass
class Entity:
    type: str
    offset: int  # in UTF-16 code units, as Telegram counts
    length: int
    url: str | None = None
    language: str | None = None  # of a "pre" block, from <pre><code class="language-x">
    custom_emoji_id: str | None = None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.length = 0
        # Open tags: name, start offset, and the url, language or emoji id the entity carries.
        self.stack: list[tuple[str, int, str | None]] = []
        self.entities: list[Entity] = []

    def _append(self, chunk: str) -> None:
        self.text.append(chunk)
        self.length += _utf16_len(chunk)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            raise TelegramHTMLError(
                f'Unsupported start tag "{tag}" at byte offset {self.getpos()[1]}'
            )
        attributes = dict(attrs)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise TelegramHTMLError('Tag "span" must have class "tg-spoiler"')
        extra = None
        if tag == "a":
            extra = attributes.get("href")
            if not extra:
                raise TelegramHTMLError("Can't find end of the href attribute")
        elif tag == "tg-emoji":
            extra = attributes.get("emoji-id")
            if not extra:
                raise TelegramHTMLError('Tag "tg-emoji" must have attribute "emoji-id"')
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            css_class = attributes.get("class") or ""
            extra = (
                css_class.removeprefix("language-") if css_class.startswith("language-") else None
            )
        elif tag == "blockquote" and "expandable" in attributes:
            extra = "expandable"
        self.stack.append((tag, self.length, extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            expected = self.stack[-1][0] if self.stack else "nothing"
            raise TelegramHTMLError(
                f'Can\'t find end tag corresponding to start tag "{expected}"'
                if self.stack
                else f'Unexpected end tag "{tag}"'
            )
        name, start, extra = self.stack.pop()
        if self.length <= start:
            return
        entity = Entity(TAGS[name], start, self.length - start)
        if name == "a":
            entity.url = extra
        elif name == "tg-emoji":
            entity.custom_emoji_id = extra
        elif name == "blockquote" and extra:
            entity.type = "expandable_blockquote"
        elif (
            name == "code"
            and self.stack
            and self.stack[-1][0] == "pre"
            and self.stack[-1][1] == start
        ):
            # Telegram reports <pre><code class="language-x"> as one "pre" entity with a language.
            self.stack[-1] = ("pre", start, extra)
            return
        elif name == "pre" and extra:
            entity.language = extra
        self.entities.append(entity)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise TelegramHTMLError(f'Unsupported start tag "{tag}"')

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise TelegramHTMLError("Unexpected < or > in text: escape it as &lt; or &gt;")
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED_ENTITIES:
            raise TelegramHTMLError(f'Unsupported HTML entity "&{name};"')
        self._append(_NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        if not 0 < code < 0x110000 or 0xD800 <= code <= 0xDFFF:
            raise TelegramHTMLError(f'Unsupported HTML entity "&#{name};"')
        self._append(chr(code))

    def handle_comment(self, data: str) -> None:
        raise TelegramHTMLError("Unsupported comment")

    def handle_decl(self, decl: str) -> None:
        raise TelegramHTMLError("Unsupported declaration")

    def unknown_decl(self, data: str) -> None:
        raise TelegramHTMLError("Unsupported declaration")

    def handle_pi(self, data: str) -> None:
        raise TelegramHTMLError("Unsupported processing instruction")


def parse_html(markup: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of a message in HTML parse mode, or TelegramHTMLError."""
    # A bare & that starts no entity is an error in Telegram's parser too.
    for match in re.finditer(r"&", markup):
        if not _ENTITY.match(markup, match.start()):
            raise TelegramHTMLError(f"Unsupported HTML entity at byte offset {match.start()}")
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    if parser.rawdata:
        raise TelegramHTMLError("Unclosed start tag or unexpected < in text")
    if parser.stack:
        raise TelegramHTMLError(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
        )
    # Telegram lists entities by offset, an enclosing entity before the ones inside it.
    entities = sorted(parser.entities, key=lambda e: (e.offset, -e.length))
    return "".join(parser.text), entities

"""What Telegram checks in a message before sending it: text, entities, keyboard, photo."""

from __future__ import annotations

import re
import struct
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from bot.emulator.params import bad_request
from bot.telegram_html import TelegramHTMLError, parse_html

MAX_TEXT = 4096  # UTF-16 code units after entity parsing
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_PHOTO_BYTES = 10 * 1024 * 1024

# The first word of a message, when it is a command: /start, /news@newsdigest_bot
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
# Inline button fields that give it an action; a button with none of them is a "text button".
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it, in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_formatted(
    text: str, parse_mode: str | None, entities: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of a text or caption as Telegram parses it; 400 on bad markup."""
    if parse_mode:
        if parse_mode.lower() != "html":
            if parse_mode.lower() in ("markdown", "markdownv2"):
                raise bad_request(f"parse_mode {parse_mode} is not implemented by the emulator")
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        try:
            plain, parsed = parse_html(text)
        except TelegramHTMLError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        return plain, [{k: v for k, v in asdict(e).items() if v is not None} for e in parsed]
    if entities is None:
        return text, []
    if not isinstance(entities, list) or not all(
        isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in entities
    ):
        raise bad_request("can't parse entities JSON object")
    return text, entities


def check_text(plain: str) -> None:
    """A message text must have something visible and fit 4096 UTF-16 units."""
    if not plain.strip():
        raise bad_request("message text is empty")
    if utf16_len(plain) > MAX_TEXT:
        raise bad_request("message is too long")


def check_caption(plain: str) -> None:
    """A caption fits 1024 UTF-16 units."""
    if utf16_len(plain) > MAX_CAPTION:
        raise bad_request("message caption is too long")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """The keyboard if Telegram would accept it; 400 otherwise (e.g. BUTTON_DATA_INVALID)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        for button in _buttons(markup["inline_keyboard"], "inline keyboard"):
            _check_inline_button(button)
    elif "keyboard" in markup:
        for button in _buttons(markup["keyboard"], "keyboard"):
            if isinstance(button, dict) and not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse keyboard button: Field "text" must be a String')
    elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _buttons(rows: Any, what: str) -> list[Any]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f"can't parse {what}: field must be an Array of Arrays")
    return [button for row in rows for button in row]


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in ("http", "https", "tg") or not parts.netloc:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def command_entity(text: str) -> dict[str, Any] | None:
    """The bot_command entity of a message that starts with a command, as clients mark it."""
    match = _COMMAND.match(text)
    if not match:
        return None
    return {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, JPEG, GIF or WebP image; 400 for anything else, as Telegram."""
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise bad_request("file is too big")
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return (0, 0)  # accepted; its size is not worth decoding here
    raise bad_request("IMAGE_PROCESS_FAILED")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise bad_request("IMAGE_PROCESS_FAILED")

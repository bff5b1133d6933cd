"""What the emulator records: the bot's messages, the chat transcript and call statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A keyboard as the user sees it: rows of (label, callback_data or url; None for reply keyboards).
Buttons = list[list[tuple[str, str | None]]]


def keyboard_rows(markup: dict[str, Any] | None) -> Buttons:
    """The buttons of an inline or reply keyboard as rows of (label, callback_data or url)."""
    if not markup:
        return []
    if "inline_keyboard" in markup:
        return [
            [(b["text"], b.get("callback_data") or b.get("url")) for b in row]
            for row in markup["inline_keyboard"]
        ]
    rows = markup.get("keyboard") or []
    return [[(b if isinstance(b, str) else b["text"], None) for b in row] for row in rows]


@dataclass
class SentMessage:
    """A message the bot sent, as the chat shows it now: edits applied, `edits` counts them."""

    message_id: int
    chat_id: int
    text: str  # plain text after parsing; "" for a photo
    html: str  # the text or caption exactly as the bot sent it
    entities: list[dict[str, Any]]  # of the text, or of the caption for a photo
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    photo: bytes | None = None  # uploaded bytes (None when sent by URL)
    caption: str | None = None  # plain caption after parsing
    edits: int = 0
    date: datetime = field(default_factory=lambda: datetime.now(UTC))
    photo_id: str | None = None  # file_id of the photo, reusable in sendPhoto
    reply_to: int | None = None
    link_preview_disabled: bool = False
    deleted: bool = False
    edit_date: datetime | None = None

    @property
    def buttons(self) -> Buttons:
        """The keyboard as rows of (label, callback_data or url)."""
        return keyboard_rows(self.reply_markup)

    def button_data(self, label: str) -> str:
        """The callback_data of the inline button labelled `label`; ValueError if there is none."""
        for row in self.buttons:
            for text, data in row:
                if text == label and data is not None:
                    return data
        labels = [text for row in self.buttons for text, _ in row]
        raise ValueError(f"no button {label!r} on message {self.message_id}; buttons: {labels}")


@dataclass
class TranscriptEntry:
    """One line of a chat as its users saw it: a message, a button press, an edit, a photo."""

    chat_id: int
    who: str  # the user's first name, or "bot"
    kind: str  # "message", "photo", "edit", "press", "answer" (callback popup), "delete"
    text: str  # plain text after HTML parsing (the caption of a photo, the label of a press)
    buttons: Buttons
    time: datetime
    message_id: int | None = None


@dataclass
class EmulatorStats:
    """Counts of what the bot asked for and what it got."""

    calls: Counter[str] = field(default_factory=Counter)  # by method name as called
    too_many_requests: int = 0  # 429 answers (flood control, or injected)
    sent_messages: int = 0  # successful sendMessage and sendPhoto calls
    errors: Counter[int] = field(default_factory=Counter)  # error answers by HTTP status
    dropped: int = 0  # connections closed without an answer (drop_next)

    def copy(self) -> EmulatorStats:
        """A snapshot that later calls do not change."""
        return EmulatorStats(
            Counter(self.calls),
            self.too_many_requests,
            self.sent_messages,
            Counter(self.errors),
            self.dropped,
        )


def _button_line(row: list[tuple[str, str | None]]) -> str:
    return " ".join(
        f"[{text}]({data})" if data and "://" in data else f"[{text}]" for text, data in row
    )


def _entry_lines(entry: TranscriptEntry) -> tuple[str, list[str]]:
    """The prefix of an entry ("Aida: ", "bot (edited): ") and the lines after it."""
    if entry.kind == "press":
        return f"{entry.who} pressed ", [f"[{entry.text}]"]
    if entry.kind == "delete":
        return f"{entry.who} deleted ", [f"message {entry.message_id}"]
    label = {"edit": " (edited)", "answer": " (popup)"}.get(entry.kind, "")
    if entry.kind == "photo":
        lines = [f"[photo: {entry.text}]" if entry.text else "[photo]"]
    else:
        lines = entry.text.split("\n")
    return f"{entry.who}{label}: ", lines + [_button_line(row) for row in entry.buttons]


def format_transcript(entries: list[TranscriptEntry], chat_labels: dict[int, str] | None) -> str:
    """A readable chat log; with `chat_labels`, each line starts with its chat's label."""
    out = []
    for entry in entries:
        prefix, lines = _entry_lines(entry)
        if chat_labels is not None:
            prefix = f"[{chat_labels.get(entry.chat_id, entry.chat_id)}] {prefix}"
        out.append(prefix + lines[0])
        out.extend(" " * len(prefix) + line for line in lines[1:])
    return "\n".join(out)

"""The emulated Telegram: users, chats, messages, pending updates. One lock guards it all."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.emulator.flood import FloodControl
from bot.emulator.params import ApiError, Params, bad_request
from bot.emulator.records import Buttons, EmulatorStats, SentMessage, TranscriptEntry

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLING = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


@dataclass
class Webhook:
    """What setWebhook set, and how delivery went."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info(self, pending: int) -> dict[str, Any]:
        """The WebhookInfo object getWebhookInfo answers with."""
        info: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
        }
        if self.allowed_updates is not None:
            info["allowed_updates"] = self.allowed_updates
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info


@dataclass
class Chat:
    """A chat the emulator knows: its Chat JSON and what is special about it."""

    json: dict[str, Any]
    forbidden: str | None = None  # the 403 description once the user blocked the bot
    migrated_to: int | None = None  # a group that became this supergroup
    sent: list[SentMessage] = field(default_factory=list)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_message_id: int = 1
    cursor: int = 0  # how many of `sent` wait_for/sent() have handed out

    @property
    def is_group(self) -> bool:
        """Whether the chat is a group or a supergroup."""
        return self.json["type"] in ("group", "supergroup")

    @property
    def label(self) -> str:
        """The name a transcript shows for the chat."""
        return self.json.get("title") or self.json.get("first_name") or str(self.json["id"])

    def take_message_id(self) -> int:
        """The next message id in this chat (user and bot messages share the sequence)."""
        self.next_message_id += 1
        return self.next_message_id - 1


class EmulatorState:
    """Everything the emulator remembers. Use `with state.cond:` around every access."""

    def __init__(self, bot_user: dict[str, Any], flood: FloodControl) -> None:
        self.cond = threading.Condition()
        self.bot_user = bot_user
        self.flood = flood
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, Chat] = {}
        self.updates: list[dict[str, Any]] = []  # unconfirmed, oldest first
        self.update_ids = itertools.count(100_000_001)
        self.callback_ids = itertools.count(4_200_000_000_000_000_001)
        self.callbacks: dict[str, dict[str, Any]] = {}  # unanswered callback queries by id
        self.answered_callbacks: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}  # (scope, language)
        self.webhook: Webhook | None = None
        self.transcript: list[TranscriptEntry] = []
        self.stats = EmulatorStats()
        self.failed_calls: list[dict[str, Any]] = []
        # Photos by file_id: uploaded bytes (None when sent by URL), width and height.
        self.files: dict[str, tuple[bytes | None, int, int]] = {}
        self.poll_generation = 0
        self.stopping = False

    # -- chats and messages -------------------------------------------------------------------

    def chat(self, chat_id: int | str | None) -> Chat:
        """The chat a method names by id or @username; 400 "chat not found" otherwise."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.json.get("username", "").lower() == chat_id[1:].lower():
                    return chat
            raise bad_request("chat not found")
        try:
            found = self.chats.get(int(chat_id))
        except ValueError:
            found = None
        if found is None:
            raise bad_request("chat not found")
        return found

    def writable_chat(self, params: Params) -> Chat:
        """The chat of `chat_id` if the bot may write there; 400 or 403 as Telegram answers."""
        chat = self.chat(params.get_str("chat_id"))
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.forbidden:
            raise ApiError(403, chat.forbidden)
        return chat

    def bot_message(self, chat: Chat, message_id: int | None, action: str) -> SentMessage:
        """A message the bot sent in `chat`; 400 as Telegram words it for `action` otherwise."""
        if message_id is None:
            raise bad_request("message identifier is not specified")
        if message_id in chat.user_messages:
            raise bad_request(f"message can't be {action}ed")
        for message in chat.sent:
            if message.message_id == message_id and not message.deleted:
                return message
        raise bad_request(f"message to {action} not found")

    def throttle(self, chat: Chat) -> None:
        """Flood control for a message to `chat`: 429 with retry_after when over a limit."""
        retry_after = self.flood.acquire(chat.json["id"], group=chat.is_group)
        if retry_after:
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def message_json(self, message: SentMessage) -> dict[str, Any]:
        """The Message object of a message the bot sent, as the API returns it."""
        chat = self.chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user,
            "chat": chat.json,
            "date": int(message.date.timestamp()),
        }
        if message.edit_date is not None:
            data["edit_date"] = int(message.edit_date.timestamp())
        if message.reply_to is not None:
            replied = self.any_message_json(chat, message.reply_to)
            if replied is not None:
                data["reply_to_message"] = replied
        if message.photo_id is not None:
            data["photo"] = [self.photo_size(message)]
            if message.caption:
                data["caption"] = message.caption
            if message.caption and message.entities:
                data["caption_entities"] = message.entities
        else:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.link_preview_disabled:
            data["link_preview_options"] = {"is_disabled": True}
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    def any_message_json(self, chat: Chat, message_id: int) -> dict[str, Any] | None:
        """A user's or the bot's message in `chat` by id, or None."""
        if message_id in chat.user_messages:
            return chat.user_messages[message_id]
        for message in chat.sent:
            if message.message_id == message_id and not message.deleted:
                return self.message_json(message)
        return None

    def photo_size(self, message: SentMessage) -> dict[str, Any]:
        """The PhotoSize of a photo message."""
        file_id = message.photo_id or ""
        content, width, height = self.files.get(file_id, (None, 0, 0))
        size: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": file_id[-12:],
            "width": width,
            "height": height,
        }
        if content is not None:
            size["file_size"] = len(content)
        return size

    def record_sent(self, message: SentMessage) -> None:
        """Keep a message the bot just sent and put it in the transcript."""
        self.chats[message.chat_id].sent.append(message)
        self.stats.sent_messages += 1
        kind = "photo" if message.photo_id else "message"
        self.log_bot(message, kind)
        self.cond.notify_all()

    def log(
        self,
        chat_id: int,
        who: str,
        kind: str,
        text: str,
        *,
        buttons: Buttons | None = None,
        message_id: int | None = None,
    ) -> None:
        """Add a transcript line."""
        now = datetime.now(UTC)
        entry = TranscriptEntry(chat_id, who, kind, text, buttons or [], now, message_id)
        self.transcript.append(entry)

    def log_bot(self, message: SentMessage, kind: str) -> None:
        """Add a transcript line for what the bot did to a message, showing its keyboard."""
        text = "" if kind == "delete" else message.caption or message.text
        buttons = [] if kind == "delete" else message.buttons
        self.log(message.chat_id, "bot", kind, text, buttons=buttons, message_id=message.message_id)

    def snapshot(self, chat_id: int) -> list[SentMessage]:
        """Copies of what the bot sent to a chat, safe to read after the lock is released."""
        chat = self.chats.get(chat_id)
        return [replace(m, entities=list(m.entities)) for m in chat.sent] if chat else []

    # -- updates --------------------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Add an update for the bot (to getUpdates or the webhook) and return its update_id."""
        update_id = next(self.update_ids)
        self.updates.append({"update_id": update_id, kind: payload})
        self.cond.notify_all()
        return update_id

    def confirm(self, offset: int | None) -> None:
        """Forget updates getUpdates' `offset` confirms (a negative offset keeps the last ones)."""
        if not offset:
            return
        if offset < 0:
            del self.updates[:offset]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

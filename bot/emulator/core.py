"""BotAPIEmulator: a local Telegram Bot API server with simulated users, for tests and the demo."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from http import HTTPStatus
from types import TracebackType
from typing import Any

from bot.emulator.content import MAX_TEXT, command_entity, utf16_len
from bot.emulator.flood import FloodControl
from bot.emulator.methods import METHODS
from bot.emulator.params import ApiError, Params, decode_params
from bot.emulator.records import (
    EmulatorStats,
    SentMessage,
    TranscriptEntry,
    format_transcript,
)
from bot.emulator.server import ApiServer
from bot.emulator.state import Chat, EmulatorState
from bot.emulator.webhook import WebhookSender

log = logging.getLogger(__name__)

DEACTIVATED = "Forbidden: user is deactivated"


@dataclass
class _Fault:
    status: int | None  # None: close the connection without an answer
    remaining: int
    methods: frozenset[str] | None  # lower-case method names; None matches every method


class BotAPIEmulator:
    """A Telegram Bot API on 127.0.0.1 that python-telegram-bot reaches via `base_url`.

    Start it (`start()` or `with`), point the bot at it with
    `ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)`, add users and
    groups, make them send messages and press buttons, and read what the bot sent. Flood limits
    (`clock` drives them) and fault injection make the bot meet what it meets on Telegram.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST-token",
        bot_username: str = "newsdigest_test_bot",
        global_rate: float = 30.0,
        global_burst: int = 30,
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 3,
        group_per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.latency = 0.0  # seconds added before each answer
        # Bot privacy mode: in groups the bot gets commands and mentions only, as on Telegram.
        self.group_privacy = True
        bot_id = token.split(":", 1)[0]
        bot_user = {
            "id": int(bot_id) if bot_id.isdigit() else 1,
            "is_bot": True,
            "first_name": "News Digest",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        flood = FloodControl(
            global_rate=global_rate,
            global_burst=global_burst,
            per_chat_rate=per_chat_rate,
            per_chat_burst=per_chat_burst,
            group_per_minute=group_per_minute,
            clock=clock,
        )
        self._state = EmulatorState(bot_user, flood)
        self._faults: list[_Fault] = []
        self._stopped = threading.Event()
        self._server: ApiServer | None = None
        self._threads: list[threading.Thread] = []
        self._base_url: str | None = None

    # -- running --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass to ApplicationBuilder.base_url: "http://127.0.0.1:PORT/bot"."""
        if self._base_url is None:
            raise RuntimeError("start() the emulator first")
        return self._base_url

    def start(self) -> BotAPIEmulator:
        """Listen on a free port of 127.0.0.1 in background threads; returns self."""
        if self._server is not None:
            return self
        if self._stopped.is_set():
            raise RuntimeError("a stopped emulator cannot be started again; make a new one")
        self._server = ApiServer(self._dispatch)
        self._base_url = f"http://127.0.0.1:{self._server.server_address[1]}/bot"
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.01},  # how soon stop() is noticed
                name="bot-api-emulator",
                daemon=True,
            ),
            WebhookSender(self._state),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Answer waiting long polls, close every connection and stop the threads."""
        self._stopped.set()
        with self._state.cond:
            self._state.stopping = True
            self._state.cond.notify_all()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> BotAPIEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- simulated users and chats --------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        language_code: str = "en",
        username: str | None = None,
    ) -> int:
        """A Telegram user and their private chat with the bot; returns the chat id (= user id)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            user["username"] = chat["username"] = username
        user["language_code"] = language_code
        with self._state.cond:
            self._state.users[user_id] = user
            if user_id in self._state.chats:
                self._state.chats[user_id].json = chat
            else:
                self._state.chats[user_id] = Chat(chat)
        return user_id

    def add_group(self, chat_id: int, title: str, *, supergroup: bool = False) -> int:
        """A group (or supergroup) with the bot in it; returns its chat id."""
        kind = "supergroup" if supergroup else "group"
        with self._state.cond:
            self._state.chats[chat_id] = Chat({"id": chat_id, "type": kind, "title": title})
        return chat_id

    def user_sends(
        self, chat_id: int, text: str, *, user_id: int | None = None, reply_to: int | None = None
    ) -> int | None:
        """A user writes `text` in a chat; returns the update_id the bot gets.

        As Telegram clients do, a leading /command (or /command@botname) is marked with a
        bot_command entity, and a text over 4096 characters is sent as several messages (the first
        update_id is returned). In groups, privacy mode hides from the bot what is neither a
        command for it nor a mention nor a reply to it: then None. A user who blocked the bot can
        still write (unlike in Telegram), so a test can make the bot answer a blocked user.
        """
        if not text:
            raise ValueError("a message needs text")
        with self._state.cond:
            chat = self._known_chat(chat_id)
            user = self._sender(chat, user_id)
            if chat.forbidden == DEACTIVATED:
                raise ValueError(f"user {chat_id} deleted their account and cannot write")
            replied = None
            if reply_to is not None:
                replied = self._state.any_message_json(chat, reply_to)
                if replied is None:
                    raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
            first_update = None
            for part in _client_split(text):
                message: dict[str, Any] = {
                    "message_id": chat.take_message_id(),
                    "from": user,
                    "chat": chat.json,
                    "date": int(time.time()),
                    "text": part,
                }
                if entity := command_entity(part):
                    message["entities"] = [entity]
                if replied is not None:
                    message["reply_to_message"] = replied
                chat.user_messages[message["message_id"]] = message
                self._state.log(chat_id, user["first_name"], "message", part)
                if chat.is_group and not self._visible_in_group(message):
                    continue
                update_id = self._state.queue_update("message", message)
                first_update = first_update or update_id
            return first_update

    def user_presses(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> str:
        """A user presses the inline button with callback_data `data` on one of the bot's
        messages; returns the callback query id. ValueError if there is no such button."""
        with self._state.cond:
            chat = self._known_chat(chat_id)
            user = self._sender(chat, user_id)
            message = next(
                (m for m in chat.sent if m.message_id == message_id and not m.deleted), None
            )
            if message is None:
                raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
            rows = (message.reply_markup or {}).get("inline_keyboard", [])
            labels = [b["text"] for row in rows for b in row if b.get("callback_data") == data]
            if not labels:
                raise ValueError(
                    f"message {message_id} has no button with data {data!r}: {message.buttons}"
                )
            query_id = str(next(self._state.callback_ids))
            query = {
                "id": query_id,
                "from": user,
                "message": self._state.message_json(message),
                "chat_instance": str(abs(hash((chat_id, self.token)))),
                "data": data,
            }
            self._state.callbacks[query_id] = query
            self._state.log(chat_id, user["first_name"], "press", labels[0], message_id=message_id)
            self._state.queue_update("callback_query", query)
            return query_id

    def block(self, chat_id: int) -> None:
        """The user blocked the bot (or removed it from the group): sends to the chat get 403."""
        with self._state.cond:
            chat = self._known_chat(chat_id)
            chat.forbidden = {
                "private": "Forbidden: bot was blocked by the user",
                "group": "Forbidden: bot was kicked from the group chat",
                "supergroup": "Forbidden: bot was kicked from the supergroup chat",
            }[chat.json["type"]]

    def unblock(self, chat_id: int) -> None:
        """The user unblocked the bot (or added it back to the group)."""
        with self._state.cond:
            self._known_chat(chat_id).forbidden = None

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends to them get 403 "user is deactivated"."""
        with self._state.cond:
            self._known_chat(user_id).forbidden = DEACTIVATED

    def migrate_group(self, chat_id: int, supergroup_id: int) -> int:
        """A group became a supergroup: sends to the old id get 400 with migrate_to_chat_id."""
        with self._state.cond:
            chat = self._known_chat(chat_id)
            if chat.json["type"] != "group":
                raise ValueError(f"chat {chat_id} is not a basic group")
            chat.migrated_to = supergroup_id
            new = {"id": supergroup_id, "type": "supergroup", "title": chat.json["title"]}
            self._state.chats[supergroup_id] = Chat(new)
        return supergroup_id

    # -- what the bot did -----------------------------------------------------------------------

    def sent(self, chat_id: int) -> list[SentMessage]:
        """Everything the bot sent to a chat, in order, edits applied (deleted ones flagged);
        later `wait_for` calls only count messages sent after this call."""
        with self._state.cond:
            chat = self._state.chats.get(chat_id)
            if chat is not None:
                chat.cursor = len(chat.sent)
            return self._state.snapshot(chat_id)

    async def wait_for(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """The next `count` messages the bot sends to a chat (counting from the last `wait_for` or
        `sent` on it); TimeoutError listing what came if they do not come within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._state.cond:
                taken = self._take_new(chat_id, count)
                if taken is None and time.monotonic() >= deadline:
                    raise TimeoutError(self._timeout_report(chat_id, count, timeout))
            if taken is not None:
                return taken
            await asyncio.sleep(0.005)

    def wait_for_sync(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """`wait_for` for synchronous code (the CLI demo): blocks this thread."""
        with self._state.cond:
            self._state.cond.wait_for(lambda: self._has_new(chat_id, count), timeout)
            taken = self._take_new(chat_id, count)
            if taken is None:
                raise TimeoutError(self._timeout_report(chat_id, count, timeout))
            return taken

    async def wait_for_edit(
        self, chat_id: int, message_id: int, edits: int = 1, timeout: float = 5.0
    ) -> SentMessage:
        """A message of the bot once it has been edited `edits` times in all."""
        await self.wait_until(
            lambda: any(
                m.message_id == message_id and m.edits >= edits for m in self._snapshot(chat_id)
            ),
            timeout,
            f"message {message_id} in chat {chat_id} edited {edits} time(s)",
        )
        return next(m for m in self._snapshot(chat_id) if m.message_id == message_id)

    async def wait_until(
        self, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until `condition()` holds (e.g. a callback was answered); TimeoutError if not."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {what} within {timeout}s; {self._failures_report(None)}")
            await asyncio.sleep(0.005)

    @property
    def answered_callbacks(self) -> list[dict[str, Any]]:
        """answerCallbackQuery calls: id, text, show_alert (and url if given)."""
        with self._state.cond:
            return [dict(answer) for answer in self._state.answered_callbacks]

    @property
    def commands(self) -> dict[str, list[dict[str, str]]]:
        """setMyCommands for the default scope, by language_code ("" for all languages)."""
        default = json.dumps({"type": "default"})
        with self._state.cond:
            return {
                language: [dict(c) for c in commands]
                for (scope, language), commands in self._state.commands.items()
                if scope == default
            }

    def commands_for(self, scope: dict[str, Any], language_code: str = "") -> list[dict[str, str]]:
        """setMyCommands for another scope, e.g. {"type": "chat", "chat_id": 42}."""
        with self._state.cond:
            key = (json.dumps(scope, sort_keys=True), language_code)
            return [dict(c) for c in self._state.commands.get(key, [])]

    @property
    def transcript(self) -> list[TranscriptEntry]:
        """Every user message and button press and every bot message, edit and photo, in order."""
        with self._state.cond:
            return [replace(entry) for entry in self._state.transcript]

    def transcript_text(self, chat_id: int | None = None) -> str:
        """The transcript as a readable chat log (all chats, each line labelled, by default)."""
        with self._state.cond:
            entries = [e for e in self._state.transcript if chat_id in (None, e.chat_id)]
            labels = None
            if chat_id is None:
                labels = {id_: chat.label for id_, chat in self._state.chats.items()}
            return format_transcript(entries, labels)

    @property
    def stats(self) -> EmulatorStats:
        """Calls per method, 429 answers, messages sent, errors by status, dropped connections."""
        with self._state.cond:
            return self._state.stats.copy()

    @property
    def failed_calls(self) -> list[dict[str, Any]]:
        """Every error answer: method, chat_id, status, description."""
        with self._state.cond:
            return [dict(call) for call in self._state.failed_calls]

    @property
    def pending_updates(self) -> int:
        """Updates the bot has not confirmed (getUpdates) or received (webhook) yet."""
        with self._state.cond:
            return len(self._state.updates)

    # -- fault injection ------------------------------------------------------------------------

    def fail_next(
        self, count: int, status: int = 502, *, methods: Collection[str] | None = None
    ) -> None:
        """The next `count` calls (of `methods`; of any method, getUpdates included, by default)
        answer `status` with Telegram's JSON error, and do nothing else."""
        self._add_fault(_Fault(status, count, _method_set(methods)))

    def drop_next(self, count: int, *, methods: Collection[str] | None = None) -> None:
        """The next `count` matching calls get their connection closed without an answer (the
        call has no effect)."""
        self._add_fault(_Fault(None, count, _method_set(methods)))

    def _add_fault(self, fault: _Fault) -> None:
        if fault.remaining > 0:
            with self._state.cond:
                self._faults.append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.methods is None or method.lower() in fault.methods:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- serving a call -------------------------------------------------------------------------

    def _dispatch(
        self, token: str, method: str, content_type: str, body: bytes, query: str
    ) -> tuple[int, dict[str, Any]] | None:
        """Answer one HTTP call: (status, JSON body), or None to drop the connection."""
        if self.latency > 0 and self._stopped.wait(self.latency):
            return None
        state, params = self._state, None
        with state.cond:
            state.stats.calls[method] += 1
            fault = self._take_fault(method)
            if fault is not None and fault.status is None:
                state.stats.dropped += 1
                return None
        try:
            if fault is not None and fault.status is not None:
                raise _fault_error(fault.status)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            handler = METHODS.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            params = decode_params(content_type, body, query)
            with state.cond:
                return 200, {"ok": True, "result": handler(state, params)}
        except ApiError as exc:
            error = exc
        except Exception as exc:  # a bug in the emulator: say so instead of hanging the bot
            log.exception("emulator failed on %s", method)
            error = ApiError(500, f"Internal Server Error: emulator failed: {exc!r}")
        with state.cond:
            state.stats.errors[error.status] += 1
            if error.status == 429:
                state.stats.too_many_requests += 1
            chat_id = params.get_str("chat_id") if isinstance(params, Params) else None
            state.failed_calls.append(
                {
                    "method": method,
                    "chat_id": chat_id,
                    "status": error.status,
                    "description": error.description,
                }
            )
        return error.status, error.payload()

    # -- helpers (the lock is held) ------------------------------------------------------------

    def _known_chat(self, chat_id: int) -> Chat:
        chat = self._state.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}: add_user() or add_group() first")
        return chat

    def _sender(self, chat: Chat, user_id: int | None) -> dict[str, Any]:
        if user_id is None and chat.is_group:
            raise ValueError(f"say which user writes in group {chat.json['id']}: user_id=...")
        user = self._state.users.get(chat.json["id"] if user_id is None else user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}: add_user() first")
        return user

    def _visible_in_group(self, message: dict[str, Any]) -> bool:
        if not self.group_privacy:
            return True
        text, mention = message["text"], f"@{self.bot_username}".lower()
        if "entities" in message:  # a command: for this bot, or for every bot in the group
            command = text[: message["entities"][0]["length"]].lower()
            return "@" not in command or command.endswith(mention)
        replied = message.get("reply_to_message") or {}
        return mention in text.lower() or replied.get("from") == self._state.bot_user

    def _has_new(self, chat_id: int, count: int) -> bool:
        chat = self._known_chat(chat_id)
        return len(chat.sent) - chat.cursor >= count

    def _take_new(self, chat_id: int, count: int) -> list[SentMessage] | None:
        if not self._has_new(chat_id, count):
            return None
        chat = self._state.chats[chat_id]
        start, chat.cursor = chat.cursor, chat.cursor + count
        return self._state.snapshot(chat_id)[start : chat.cursor]

    def _snapshot(self, chat_id: int) -> list[SentMessage]:
        with self._state.cond:
            return self._state.snapshot(chat_id)

    def _timeout_report(self, chat_id: int, count: int, timeout: float) -> str:
        chat = self._known_chat(chat_id)
        new = [m.caption or m.text for m in chat.sent[chat.cursor :]]
        return (
            f"expected {count} new message(s) from the bot in chat {chat_id} within {timeout}s, "
            f"got {len(new)}: {new}; {self._failures_report(chat_id)}"
        )

    def _failures_report(self, chat_id: int | None) -> str:
        with self._state.cond:
            failed = [
                f"{c['method']} -> {c['status']} {c['description']}"
                for c in self._state.failed_calls
                if chat_id is None or c["chat_id"] == str(chat_id)
            ]
        return "failed calls: " + " | ".join(failed[-5:]) if failed else "no failed calls"


def _method_set(methods: Collection[str] | None) -> frozenset[str] | None:
    if isinstance(methods, str):
        methods = [methods]
    return None if methods is None else frozenset(m.lower() for m in methods)


def _fault_error(status: int) -> ApiError:
    if status == 429:
        return ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
    try:
        return ApiError(status, HTTPStatus(status).phrase)
    except ValueError:
        return ApiError(status, f"Error {status}")


def _client_split(text: str) -> list[str]:
    """Split a long text into messages of at most 4096 UTF-16 units, as Telegram clients do."""
    parts, current, length = [], [], 0
    for char in text:
        size = utf16_len(char)
        if length + size > MAX_TEXT:
            parts.append("".join(current))
            current, length = [], 0
        current.append(char)
        length += size
    parts.append("".join(current))
    return parts

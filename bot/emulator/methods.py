"""The Bot API methods the emulator implements, with the real API's JSON shapes and errors.

Each takes the state (its lock held by the caller) and the request's parameters, and returns the
`result` of a successful answer or raises ApiError.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.emulator.content import (
    check_caption,
    check_reply_markup,
    check_text,
    image_size,
    parse_formatted,
)
from bot.emulator.params import ApiError, Params, Upload, bad_request
from bot.emulator.records import SentMessage
from bot.emulator.state import (
    CONFLICT_POLLING,
    CONFLICT_WEBHOOK,
    Chat,
    EmulatorState,
    Webhook,
)

Method = Callable[[EmulatorState, Params], Any]

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def get_me(state: EmulatorState, p: Params) -> dict[str, Any]:
    """The bot's User object."""
    return state.bot_user


def get_updates(state: EmulatorState, p: Params) -> list[dict[str, Any]]:
    """Pending updates after `offset`, waiting up to `timeout` seconds for one (long polling)."""
    limit = min(100, max(1, p.get_int("limit") or 100))
    timeout = max(0.0, p.get_float("timeout") or 0.0)
    if state.webhook is not None:
        raise ApiError(409, CONFLICT_WEBHOOK)
    state.poll_generation += 1  # a newer request ends the one still waiting, as Telegram does
    generation = state.poll_generation
    state.cond.notify_all()
    state.confirm(p.get_int("offset"))
    deadline = time.monotonic() + timeout
    while not state.updates and not state.stopping:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        state.cond.wait(remaining)
        if state.poll_generation != generation:
            raise ApiError(409, CONFLICT_POLLING)
        if state.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
    return state.updates[:limit]


def set_webhook(state: EmulatorState, p: Params) -> bool:
    """Send updates to `url` from now on (an empty url removes the webhook)."""
    url = p.get_str("url") or ""
    if p.get_bool("drop_pending_updates"):
        state.updates.clear()
    if not url:
        state.webhook = None
        return True
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = p.get_json("allowed_updates")
    state.webhook = Webhook(url, secret, p.get_int("max_connections") or 40, allowed)
    state.cond.notify_all()
    return True


def delete_webhook(state: EmulatorState, p: Params) -> bool:
    """Back to getUpdates; `drop_pending_updates` forgets what is waiting."""
    if p.get_bool("drop_pending_updates"):
        state.updates.clear()
    state.webhook = None
    state.cond.notify_all()
    return True


def get_webhook_info(state: EmulatorState, p: Params) -> dict[str, Any]:
    """The WebhookInfo object (url "" while getUpdates is in use)."""
    pending = len(state.updates)
    if state.webhook is None:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
    return state.webhook.info(pending)


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.get_json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""


def set_my_commands(state: EmulatorState, p: Params) -> bool:
    """The command menu for a scope and language."""
    commands = p.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _commands_key(p)
    state.commands[key] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    if not commands:
        del state.commands[key]
    return True


def get_my_commands(state: EmulatorState, p: Params) -> list[dict[str, str]]:
    """The command menu set for a scope and language."""
    return state.commands.get(_commands_key(p), [])


def delete_my_commands(state: EmulatorState, p: Params) -> bool:
    """Remove the command menu of a scope and language."""
    state.commands.pop(_commands_key(p), None)
    return True


def _reply_to(state: EmulatorState, chat: Chat, p: Params) -> int | None:
    reply = p.get_json("reply_parameters")
    if isinstance(reply, dict):
        message_id, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
    else:
        message_id, allow = (
            p.get_int("reply_to_message_id"),
            p.get_bool("allow_sending_without_reply"),
        )
    if message_id is None:
        return None
    if state.any_message_json(chat, int(message_id)) is None:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return int(message_id)


def _previews_disabled(p: Params) -> bool:
    options = p.get_json("link_preview_options")
    if isinstance(options, dict):
        return bool(options.get("is_disabled"))
    return p.get_bool("disable_web_page_preview")


def send_message(state: EmulatorState, p: Params) -> dict[str, Any]:
    """Send a text message; strict about HTML, length and keyboards; flood-controlled."""
    chat = state.writable_chat(p)
    html = p.get_str("text") or ""
    parse_mode = p.get_str("parse_mode")
    plain, entities = parse_formatted(html, parse_mode, p.get_json("entities"))
    check_text(plain)
    markup = check_reply_markup(p.get_json("reply_markup"))
    reply_to = _reply_to(state, chat, p)
    state.throttle(chat)
    message = SentMessage(
        message_id=chat.take_message_id(),
        chat_id=chat.json["id"],
        text=plain,
        html=html,
        entities=entities,
        parse_mode=parse_mode,
        reply_markup=markup,
        reply_to=reply_to,
        link_preview_disabled=_previews_disabled(p),
    )
    state.record_sent(message)
    return state.message_json(message)


def _photo(state: EmulatorState, p: Params) -> tuple[str, bytes | None, int, int]:
    """The file_id, bytes, width and height of the photo a sendPhoto names or uploads."""
    photo = p.get_file("photo")
    if isinstance(photo, Upload):
        width, height = image_size(photo.content)
        return "AgACAgIAAxkBAAI" + secrets.token_urlsafe(24), photo.content, width, height
    if not photo:
        raise bad_request("there is no photo in the request")
    if photo in state.files:
        return (photo, *state.files[photo])
    if urlsplit(photo).scheme in ("http", "https"):
        return "AgACAgIAAxkBAAI" + secrets.token_urlsafe(24), None, 0, 0
    raise bad_request("wrong file identifier/HTTP URL specified")


def send_photo(state: EmulatorState, p: Params) -> dict[str, Any]:
    """Send a photo (uploaded bytes, a file_id or a URL) with an optional caption."""
    chat = state.writable_chat(p)
    file_id, content, width, height = _photo(state, p)
    html = p.get_str("caption") or ""
    parse_mode = p.get_str("parse_mode")
    plain, entities = parse_formatted(html, parse_mode, p.get_json("caption_entities"))
    check_caption(plain)
    markup = check_reply_markup(p.get_json("reply_markup"))
    reply_to = _reply_to(state, chat, p)
    state.throttle(chat)
    state.files[file_id] = (content, width, height)
    message = SentMessage(
        message_id=chat.take_message_id(),
        chat_id=chat.json["id"],
        text="",
        html=html,
        entities=entities,
        parse_mode=parse_mode,
        reply_markup=markup,
        photo=content,
        caption=plain or None,
        photo_id=file_id,
        reply_to=reply_to,
    )
    state.record_sent(message)
    return state.message_json(message)


def _edited_chat(state: EmulatorState, p: Params) -> Chat:
    if "chat_id" not in p and "inline_message_id" in p:
        raise bad_request("inline messages are not implemented by the emulator")
    return state.writable_chat(p)


def _record_edit(state: EmulatorState, message: SentMessage) -> dict[str, Any]:
    message.edits += 1
    message.edit_date = datetime.now(UTC)
    state.log_bot(message, "edit")
    state.cond.notify_all()
    return state.message_json(message)


def edit_message_text(state: EmulatorState, p: Params) -> dict[str, Any]:
    """Replace a message's text (and keyboard: one left out is removed, as in Telegram)."""
    chat = _edited_chat(state, p)
    message = state.bot_message(chat, p.get_int("message_id"), "edit")
    if message.photo_id is not None:
        raise bad_request("there is no text in the message to edit")
    html = p.get_str("text") or ""
    parse_mode = p.get_str("parse_mode")
    plain, entities = parse_formatted(html, parse_mode, p.get_json("entities"))
    check_text(plain)
    markup = check_reply_markup(p.get_json("reply_markup"))
    if (plain, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise bad_request(NOT_MODIFIED)
    state.throttle(chat)
    message.text, message.html, message.entities = plain, html, entities
    message.parse_mode, message.reply_markup = parse_mode, markup
    message.link_preview_disabled = _previews_disabled(p)
    return _record_edit(state, message)


def edit_message_reply_markup(state: EmulatorState, p: Params) -> dict[str, Any]:
    """Replace a message's inline keyboard (none given removes it)."""
    chat = _edited_chat(state, p)
    message = state.bot_message(chat, p.get_int("message_id"), "edit")
    markup = check_reply_markup(p.get_json("reply_markup"))
    if markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    message.reply_markup = markup
    return _record_edit(state, message)


def answer_callback_query(state: EmulatorState, p: Params) -> bool:
    """Answer a button press: optional toast or alert text, once per query."""
    query_id = p.get_str("callback_query_id") or ""
    query = state.callbacks.pop(query_id, None)
    if query is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text, show_alert = p.get_str("text"), p.get_bool("show_alert")
    answer: dict[str, Any] = {"id": query_id, "text": text, "show_alert": show_alert}
    if p.get_str("url"):
        answer["url"] = p.get_str("url")
    state.answered_callbacks.append(answer)
    if text:
        state.log(query["message"]["chat"]["id"], "bot", "answer", text)
    state.cond.notify_all()
    return True


def send_chat_action(state: EmulatorState, p: Params) -> bool:
    """ "typing..." and the like: checked, then forgotten."""
    state.writable_chat(p)
    if p.get_str("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


def delete_message(state: EmulatorState, p: Params) -> bool:
    """Delete a message the bot sent."""
    chat = state.writable_chat(p)
    message = state.bot_message(chat, p.get_int("message_id"), "delete")
    message.deleted = True
    state.log_bot(message, "delete")
    state.cond.notify_all()
    return True


def get_chat(state: EmulatorState, p: Params) -> dict[str, Any]:
    """The ChatFullInfo of a chat."""
    chat = state.chat(p.get_str("chat_id"))
    gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
    return {
        **chat.json,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": dict.fromkeys(gifts + ("gifts_from_channels",), False),
    }


def log_out(state: EmulatorState, p: Params) -> bool:
    """close and logOut: nothing to do locally."""
    return True


METHODS: dict[str, Method] = {
    name.lower(): method
    for name, method in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "sendMessage": send_message,
        "sendPhoto": send_photo,
        "editMessageText": edit_message_text,
        "editMessageReplyMarkup": edit_message_reply_markup,
        "answerCallbackQuery": answer_callback_query,
        "sendChatAction": send_chat_action,
        "deleteMessage": delete_message,
        "getChat": get_chat,
        "close": log_out,
        "logOut": log_out,
    }.items()
}

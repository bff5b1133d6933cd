"""Pacing for every Bot API call that sends or changes a message, within Telegram's flood limits.

Telegram allows about 30 messages a second overall, one a second to one chat and 20 a minute to
one group, and answers 429 with `retry_after` past them. `PacingRateLimiter` spaces messages out
evenly (no bursts) on a global schedule and on one schedule per chat, so a broadcast runs just
under the global limit while a busy chat only ever waits for itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

Result = bool | JSONDict | list[JSONDict]
Callback = Callable[..., Coroutine[Any, Any, Result]]

# Methods that send or change a message in a chat: Telegram counts them against its limits.
PACED_ENDPOINTS = frozenset(
    name.lower()
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendChecklist",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "sendGame",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
        "editMessageChecklist",
        "stopPoll",
    )
)

STALE_AFTER = 60.0  # seconds after its last message that a chat's schedule is forgotten
SWEEP_EVERY = 10.0  # seconds between sweeps of forgotten chats


class StoppedWaiting(Exception):
    """The bot is stopping: a paced call still waiting for its turn was not made."""


@dataclass
class RateLimiterStats:
    """Counters for benchmarks: paced calls released (retries included), retries, pauses."""

    sent: int = 0
    retries: int = 0
    pauses: int = 0


@dataclass
class _ChatSchedule:
    """When a chat may get its next message, and who is waiting for it."""

    interval: float
    last: float = -math.inf  # when the last call to the chat was answered
    users: int = 0  # calls holding or waiting for the lock
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PacingRateLimiter(BaseRateLimiter[int]):
    """Spaces out message-sending calls globally and per chat; pauses everything on a 429.

    `global_rate` is messages a second over all chats, `per_chat_interval` the seconds between
    two messages to one private chat, `group_per_minute` the messages a minute to one group,
    supergroup or channel (a negative id or an @username). On `RetryAfter` all sending pauses for
    `retry_after` and the call is retried up to `max_retries` times (or `rate_limit_args` times
    when a bot method is given it), then the error reaches the caller. Other calls
    (answerCallbackQuery, sendChatAction, getMe...) are never delayed.
    """

    def __init__(
        self,
        *,
        global_rate: float = 29.0,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if global_rate <= 0 or per_chat_interval < 0 or group_per_minute <= 0 or max_retries < 0:
            raise ValueError("rates must be positive, interval and retries not negative")
        self._global_interval = 1.0 / global_rate
        self._private_interval = per_chat_interval
        self._group_interval = max(per_chat_interval, 60.0 / group_per_minute)
        self._stale_after = max(STALE_AFTER, self._group_interval)
        self._max_retries = max_retries
        self._clock = clock
        self._next_slot = -math.inf  # the global schedule's next free slot
        self._paused_until = -math.inf
        self._chats: dict[int | str, _ChatSchedule] = {}
        self._last_sweep = clock()
        self._stopping = asyncio.Event()
        self.stats = RateLimiterStats()

    def stop_waiting(self) -> None:
        """Shutting down: paced calls waiting for their turn raise StoppedWaiting instead of
        being made; a call already made is answered as usual."""
        self._stopping.set()

    @property
    def tracked_chats(self) -> int:
        """How many chats have a schedule in memory."""
        return len(self._chats)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Forget the chats' schedules."""
        self._chats.clear()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Make the call when the schedules allow it, retrying after 429s; return its result."""
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        if endpoint.lower() not in PACED_ENDPOINTS:
            return await self._call(callback, args, kwargs, retries, None)
        key = _chat_key(data.get("chat_id"))
        if key is None:  # an inline message: no chat to pace
            return await self._call(callback, args, kwargs, retries, _GLOBAL_ONLY)
        chat = self._chat(key)
        chat.users += 1
        try:
            # The lock keeps one chat's messages in order and lets only the first in line hold
            # a global slot; other chats never wait for it.
            async with chat.lock:
                return await self._call(callback, args, kwargs, retries, chat)
        finally:
            chat.users -= 1

    async def _call(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        retries: int,
        chat: _ChatSchedule | None,
    ) -> Result:
        """Call, paced when `chat` is given, and retry after each RetryAfter up to `retries`."""
        for attempt in range(retries + 1):
            if chat is not None:
                await self._wait_turn(chat)
                self.stats.sent += 1
            elif attempt:
                await self._sleep_until(self._paused_until)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._pause(retry_after_seconds(exc))  # also when giving up: others wait too
                if attempt == retries:
                    log.warning("flood control: giving up after %d retries", retries)
                    raise
                self.stats.retries += 1
            finally:
                if chat is not None:
                    # Counted from the answer, so the next message cannot overtake this one on
                    # its way to Telegram and arrive too soon after it.
                    chat.last = self._clock()
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def _wait_turn(self, chat: _ChatSchedule) -> None:
        """Wait until the chat's slot, then take the next global slot and wait for it."""
        while True:
            if self._stopping.is_set():
                raise StoppedWaiting
            now = self._clock()
            ready = max(chat.last + chat.interval, self._paused_until)
            if ready > now:
                await self._sleep(ready - now)
                continue
            # The global slot is taken only once the chat is ready, so no slot goes unused
            # while a chat waits for its own turn.
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._global_interval
            await self._sleep_until(slot)
            if self._paused_until <= self._clock():
                return
            # A pause began while this call waited: take a fresh slot after it.

    def _pause(self, seconds: float) -> None:
        """Stop all paced sending for `seconds` from now; log when a new pause begins."""
        now = self._clock()
        if self._paused_until <= now:
            self.stats.pauses += 1
            log.warning(
                "flood control: Telegram said retry after %.1f s; pausing all sending", seconds
            )
        self._paused_until = max(self._paused_until, now + seconds)

    async def _sleep_until(self, moment: float) -> None:
        """Sleep until the clock reaches `moment` (not at all if it has)."""
        delay = moment - self._clock()
        if delay > 0:
            await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        """Sleep `seconds`; StoppedWaiting at once if the bot starts stopping meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise StoppedWaiting

    def _chat(self, key: int | str) -> _ChatSchedule:
        """The schedule of a chat, made on first use; forgotten ones are swept now and then."""
        now = self._clock()
        if now - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = now
            stale = [
                k
                for k, c in self._chats.items()
                if c.users == 0 and now - c.last >= self._stale_after
            ]
            for k in stale:
                del self._chats[k]
        chat = self._chats.get(key)
        if chat is None:
            group = isinstance(key, str) or key < 0
            chat = _ChatSchedule(self._group_interval if group else self._private_interval)
            self._chats[key] = chat
        return chat


# Calls without a chat (edits of inline messages) share it: no interval, the global slot only.
_GLOBAL_ONLY = _ChatSchedule(0.0)


def _chat_key(chat_id: object) -> int | str | None:
    """A chat's key: its integer id (also when given as a string), or its @username lowered."""
    if chat_id is None or chat_id == "":
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(chat_id).lower()


def retry_after_seconds(exc: RetryAfter) -> float:
    """Seconds a RetryAfter asks to wait, read without PTB 22's deprecation warning."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)

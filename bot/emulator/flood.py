"""Telegram's flood control as token buckets: overall, per chat, and per minute in groups."""

from __future__ import annotations

import math
from collections.abc import Callable


class TokenBucket:
    """`burst` tokens that refill at `rate` a second; an infinite rate never runs out."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 if one is there now)."""
        if math.isinf(self.rate):
            return 0.0
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def take(self) -> None:
        """Use one token (after `wait` said there is one)."""
        if not math.isinf(self.rate):
            self.tokens -= 1


class FloodControl:
    """The limits Telegram applies to messages a bot sends; not thread-safe (the caller locks)."""

    def __init__(
        self,
        *,
        global_rate: float,
        global_burst: int,
        per_chat_rate: float,
        per_chat_burst: int,
        group_per_minute: int,
        clock: Callable[[], float],
    ) -> None:
        self._clock = clock
        self._per_chat = (per_chat_rate, per_chat_burst)
        self._group_per_minute = group_per_minute
        self._global = TokenBucket(global_rate, global_burst, clock())
        self._chats: dict[int, TokenBucket] = {}
        self._groups: dict[int, TokenBucket] = {}

    def acquire(self, chat_id: int, *, group: bool) -> int:
        """Take a token from every bucket that applies and return 0, or return the whole seconds
        to wait (at least 1) and take nothing."""
        now = self._clock()
        buckets = [self._global, self._bucket(self._chats, chat_id, *self._per_chat, now)]
        if group:
            rate = self._group_per_minute / 60
            buckets.append(self._bucket(self._groups, chat_id, rate, self._group_per_minute, now))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
        for bucket in buckets:
            bucket.take()
        return 0

    @staticmethod
    def _bucket(
        buckets: dict[int, TokenBucket], chat_id: int, rate: float, burst: int, now: float
    ) -> TokenBucket:
        if chat_id not in buckets:
            buckets[chat_id] = TokenBucket(rate, burst, now)
        return buckets[chat_id]

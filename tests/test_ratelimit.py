"""PacingRateLimiter driving the real python-telegram-bot against the Bot API emulator."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.emulator import BotAPIEmulator, SentMessage
from bot.ratelimit import PacingRateLimiter, retry_after_seconds

# PTB 22 warns, whenever it builds a RetryAfter, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

PLENTY = {"global_rate": 1e6, "global_burst": 1000, "per_chat_rate": 1e6, "per_chat_burst": 1000}


@pytest.fixture
def emulators() -> Iterator[Callable[..., BotAPIEmulator]]:
    """Starts emulators with the given flood limits; stops them after the test."""
    started: list[BotAPIEmulator] = []

    def start(**limits: Any) -> BotAPIEmulator:
        emulator = BotAPIEmulator(**limits).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@asynccontextmanager
async def paced_bot(
    emulator: BotAPIEmulator, limiter: PacingRateLimiter
) -> AsyncIterator[ExtBot[int]]:
    """A PTB ExtBot on the emulator whose calls go through `limiter`."""
    bot: ExtBot[int] = ExtBot(emulator.token, base_url=emulator.base_url, rate_limiter=limiter)
    async with bot:
        yield bot


async def timed(coro: Any) -> float:
    """Seconds until `coro` finishes."""
    start = time.monotonic()
    await coro
    return time.monotonic() - start


def gaps(messages: list[SentMessage]) -> list[float]:
    """Seconds between consecutive messages as the emulator received them."""
    stamps = sorted(m.date.timestamp() for m in messages)
    return [round(b - a, 3) for a, b in zip(stamps, stamps[1:], strict=False)]


async def test_broadcast_runs_evenly_at_the_global_limit(emulators):
    emulator = emulators(global_rate=60, global_burst=60)
    chats = [emulator.add_user(1000 + i) for i in range(90)]
    limiter = PacingRateLimiter(global_rate=60)
    async with paced_bot(emulator, limiter) as bot:
        elapsed = await timed(asyncio.gather(*(bot.send_message(c, f"digest {c}") for c in chats)))

    messages = [m for c in chats for m in emulator.sent(c)]
    stamps = sorted(m.date.timestamp() for m in messages)
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    print(f"\n90 messages in {elapsed:.2f} s: {rate:.1f}/s received, limit 60/s ({rate / 60:.0%})")
    assert emulator.stats.too_many_requests == 0
    assert [len(emulator.sent(c)) for c in chats] == [1] * 90
    assert 1.3 <= elapsed <= 2.2
    # Evenly spaced, no bursts: any 30 consecutive messages span about half a second.
    assert min(b - a for a, b in zip(stamps, stamps[30:], strict=False)) >= 0.4
    assert (limiter.stats.sent, limiter.stats.retries, limiter.stats.pauses) == (90, 0, 0)


async def test_one_chat_is_spaced_while_another_chat_does_not_wait(emulators):
    emulator = emulators(global_rate=1e6, global_burst=1000, per_chat_rate=5, per_chat_burst=1)
    busy, other = emulator.add_user(1), emulator.add_user(2)
    limiter = PacingRateLimiter(global_rate=1000, per_chat_interval=0.2)
    async with paced_bot(emulator, limiter) as bot:
        start = time.monotonic()
        burst = asyncio.gather(*(bot.send_message(busy, f"part {i}") for i in range(4)))
        await asyncio.sleep(0.05)  # the busy chat's second message now waits for its slot
        other_took = await timed(bot.send_message(other, "hello"))
        await burst
        busy_took = time.monotonic() - start

    assert emulator.stats.too_many_requests == 0
    assert len(emulator.sent(busy)) == 4 and len(emulator.sent(other)) == 1
    assert other_took < 0.1
    assert busy_took >= 0.6
    assert all(0.19 <= gap <= 0.35 for gap in gaps(emulator.sent(busy))), gaps(emulator.sent(busy))


async def test_groups_are_paced_per_minute_whether_named_by_int_or_string(emulators):
    emulator = emulators(
        global_rate=1e6, global_burst=1000, per_chat_rate=20, per_chat_burst=1, group_per_minute=300
    )
    group = emulator.add_group(-100123, "Readers", supergroup=True)
    private = emulator.add_user(7)
    limiter = PacingRateLimiter(global_rate=1000, per_chat_interval=0.05, group_per_minute=300)
    async with paced_bot(emulator, limiter) as bot:
        await asyncio.gather(
            *(bot.send_message(group if i % 2 else str(group), f"g{i}") for i in range(4)),
            *(bot.send_message(private, f"p{i}") for i in range(4)),
        )

    assert emulator.stats.too_many_requests == 0
    group_gaps, private_gaps = gaps(emulator.sent(group)), gaps(emulator.sent(private))
    assert len(group_gaps) == 3 and len(private_gaps) == 3
    assert all(0.19 <= gap <= 0.35 for gap in group_gaps), group_gaps  # 60 s / 300
    assert all(0.045 <= gap < 0.15 for gap in private_gaps), private_gaps


async def test_a_stricter_server_pauses_all_sending_and_every_message_arrives_once(
    emulators, caplog
):
    emulator = emulators(global_rate=5, global_burst=5)
    emulator.latency = 0.05  # several calls are in flight when the first 429 comes back
    chats = [emulator.add_user(100 + i) for i in range(15)]
    limiter = PacingRateLimiter(global_rate=25, max_retries=5)
    caplog.set_level(logging.WARNING, logger="bot.ratelimit")
    async with paced_bot(emulator, limiter) as bot:
        broadcast = asyncio.gather(*(bot.send_message(c, "digest") for c in chats[:14]))
        await emulator.wait_until(lambda: limiter.stats.pauses > 0, 2, "a pause")
        await asyncio.sleep(0.07)  # the calls already on their way land
        calls = emulator.stats.calls["sendMessage"]
        # Nothing goes out during the pause: not the calls whose slots fell inside it, nor a
        # new call that never saw a 429 itself.
        late = asyncio.create_task(timed(bot.send_message(chats[14], "digest")))
        await asyncio.sleep(0.4)
        assert emulator.stats.calls["sendMessage"] == calls
        late_took = await late
        await broadcast

    stats = emulator.stats
    assert [len(emulator.sent(c)) for c in chats] == [1] * 15
    assert stats.calls["sendMessage"] == 15 + stats.too_many_requests
    assert late_took >= 0.8
    assert limiter.stats.pauses >= 1
    assert limiter.stats.retries == stats.too_many_requests
    assert limiter.stats.sent == stats.calls["sendMessage"]
    # One warning per pause, not one per 429 (the first burst alone brings several).
    pause_logs = [r for r in caplog.records if "pausing" in r.getMessage()]
    assert len(pause_logs) == limiter.stats.pauses < stats.too_many_requests
    print(f"\n{stats.too_many_requests} 429s, {limiter.stats.pauses} pauses")


async def test_retries_run_out_and_the_caller_gets_retry_after(emulators):
    emulator = emulators(**PLENTY)
    chat = emulator.add_user(5)
    async with paced_bot(emulator, PacingRateLimiter(max_retries=0)) as bot:
        emulator.fail_next(1, 429, methods=["sendMessage"])
        with pytest.raises(RetryAfter):
            await bot.send_message(chat, "once")
    assert emulator.stats.calls["sendMessage"] == 1

    emulator = emulators(**PLENTY)
    chat = emulator.add_user(5)
    limiter = PacingRateLimiter(per_chat_interval=0.05, max_retries=3)
    async with paced_bot(emulator, limiter) as bot:
        emulator.fail_next(2, 429, methods=["sendMessage"])
        with pytest.raises(RetryAfter):  # rate_limit_args lowers the retries for this call
            await bot.send_message(chat, "twice", rate_limit_args=1)
        assert emulator.stats.calls["sendMessage"] == 2
        # The last retry_after is honoured too, though that call gave up.
        assert await timed(bot.send_message(chat, "then fine")) >= 0.8
    assert [m.text for m in emulator.sent(chat)] == ["then fine"]
    assert (limiter.stats.retries, limiter.stats.pauses) == (1, 2)


async def test_callback_answers_and_chat_actions_are_not_delayed(emulators):
    emulator = emulators(**PLENTY)
    chat = emulator.add_user(9)
    limiter = PacingRateLimiter(global_rate=10, per_chat_interval=0.25)
    button = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
    async with paced_bot(emulator, limiter) as bot:
        menu = await bot.send_message(chat, "Digest", reply_markup=button)
        query_id = emulator.user_presses(chat, menu.message_id, "more")
        queued = asyncio.gather(*(bot.send_message(chat, f"part {i}") for i in range(3)))
        await asyncio.sleep(0.02)  # the parts now wait for the chat's slots
        answer_took = await timed(bot.answer_callback_query(query_id, text="Loading"))
        action_took = await timed(bot.send_chat_action(chat, "typing"))
        queued_took = await timed(queued)

    assert answer_took < 0.1 and action_took < 0.1
    assert queued_took >= 0.6  # the parts themselves were paced
    assert emulator.answered_callbacks[0]["text"] == "Loading"
    assert limiter.stats.sent == 4


async def test_chats_idle_for_a_minute_are_forgotten(emulators):
    emulator = emulators(**PLENTY)
    chats = [emulator.add_user(200 + i) for i in range(20)]
    skew = [0.0]
    limiter = PacingRateLimiter(global_rate=1000, clock=lambda: time.monotonic() + skew[0])
    async with paced_bot(emulator, limiter) as bot:
        await asyncio.gather(*(bot.send_message(c, "hi") for c in chats))
        assert limiter.tracked_chats == 20
        skew[0] = 61.0
        await bot.send_message(chats[0], "a minute later")
        assert limiter.tracked_chats == 1
    assert len(emulator.sent(chats[0])) == 2


@pytest.mark.parametrize("given", [3, timedelta(seconds=3)])
def test_retry_after_is_read_in_seconds_without_warnings(given):
    error = RetryAfter(given)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert retry_after_seconds(error) == 3.0

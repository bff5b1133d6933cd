"""Scheduled delivery through the emulator with a controlled clock: exactly once, on time."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import ExtBot

from bot.delivery import DeliveryPass
from bot.emulator import BotAPIEmulator
from digest.config import load_config
from digest.demo_data import load_sample
from digest.schedule import due_moment
from storage.db import open_db
from storage.deliveries import get_delivery
from storage.records import Subscriber
from storage.subscribers import get_subscriber, save_subscriber

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
HEADER = "Central Asia digest"
LIMITS = dict(
    global_rate=10000,
    global_burst=10000,
    per_chat_rate=10000,
    per_chat_burst=10000,
    group_per_minute=100000,
)


class World:
    def __init__(self, emulator, db, config, bot):
        self.emulator, self.db, self.config, self.bot = emulator, db, config, bot
        self.sleeps: list[float] = []

    def subscribe(
        self,
        chat_id,
        zone="Asia/Almaty",
        at="08:00",
        topics=("central-asia", "economy"),
        language="en",
        since=T0,
    ):
        self.emulator.add_user(chat_id, f"User {chat_id}", language_code=language)
        save_subscriber(
            self.db,
            Subscriber(
                chat_id=chat_id,
                language=language,
                timezone=zone,
                delivery_time=at,
                topics=list(topics),
                active=True,
                created_at=since,
            ),
        )

    async def fake_sleep(self, seconds):
        self.sleeps.append(seconds)

    def delivery(self, now, stopping=None):
        return DeliveryPass(
            self.db,
            self.config,
            self.bot,
            now=lambda: now,
            stopping=stopping,
            sleep=self.fake_sleep,
        )

    async def run(self, now, everyone=False):
        return await self.delivery(now).run(everyone=everyone)

    def digests(self, chat_id) -> int:
        """How many digests the chat received (each starts with the header message)."""
        return sum(m.text.startswith(HEADER) for m in self.emulator.sent(chat_id))


@pytest.fixture
async def world(tmp_path):
    emulator = BotAPIEmulator(**LIMITS).start()
    config = load_config(env={})
    db = open_db(tmp_path / "delivery.db")
    load_sample(db, config, T0)
    bot = ExtBot(emulator.token, base_url=emulator.base_url)
    await bot.initialize()
    try:
        yield World(emulator, db, config, bot)
    finally:
        await bot.shutdown()
        emulator.stop()


async def run_day(world, start, hours, step_minutes=10):
    """Passes every `step_minutes` like the job queue would; returns {chat: [pass times it got mail]}."""
    got: dict[int, list[datetime]] = {}
    seen: Counter = Counter()
    moment = start
    while moment <= start + timedelta(hours=hours):
        await world.run(moment)
        for chat_id in list(world.emulator._state.chats):  # every chat the emulator knows
            count = world.digests(chat_id)
            if count > seen[chat_id]:
                got.setdefault(chat_id, []).extend([moment] * (count - seen[chat_id]))
                seen[chat_id] = count
        moment += timedelta(minutes=step_minutes)
    return got


async def test_a_day_across_time_zones_each_gets_one_digest_at_local_time(world):
    zones = {
        1: ("Asia/Almaty", "08:00"),
        2: ("Asia/Tashkent", "08:00"),
        3: ("Europe/Moscow", "07:30"),
        4: ("America/New_York", "06:45"),
        5: ("UTC", "21:30"),
        6: ("Asia/Bishkek", "00:05"),
    }
    for chat_id, (zone, at) in zones.items():
        world.subscribe(chat_id, zone, at, since=T0)
    got = await run_day(world, T0, hours=47)
    for chat_id, (zone, at) in zones.items():
        times = got[chat_id]
        days = sorted({t.astimezone(ZoneInfo(zone)).date() for t in times})
        assert len(times) == len(days), f"chat {chat_id} got two digests on one day: {times}"
        for when in times:
            local_day = when.astimezone(ZoneInfo(zone)).date()
            due = due_moment(local_day, at, zone)
            assert timedelta(0) <= when - due < timedelta(minutes=10), (chat_id, when, due)
    assert len(got[1]) == 2 and len(got[5]) == 2


async def test_daylight_saving_changes_neither_skip_nor_double_a_digest(world):
    # London springs forward at 01:00 on 29 March 2026, so 01:30 does not exist that day;
    # New York falls back at 02:00 on 1 November, so 01:30 happens twice.
    world.subscribe(10, "Europe/London", "01:30", since=datetime(2026, 3, 28, tzinfo=UTC))
    world.subscribe(11, "America/New_York", "01:30", since=datetime(2026, 10, 31, tzinfo=UTC))
    spring = await run_day(world, datetime(2026, 3, 28, 0, tzinfo=UTC), hours=72, step_minutes=15)
    autumn = await run_day(world, datetime(2026, 10, 31, 0, tzinfo=UTC), hours=72, step_minutes=15)
    london = [t.date() for t in spring[10]]
    assert london == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    new_york = [t.astimezone(ZoneInfo("America/New_York")).date() for t in autumn[11]]
    assert new_york == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]


async def test_each_distinct_digest_is_built_once_per_pass(world):
    combos = [("central-asia",), ("economy", "energy"), ("kazakhstan",)]
    for chat_id in range(100, 130):
        world.subscribe(chat_id, topics=combos[chat_id % 3])
    report = await world.run(datetime(2026, 11, 25, 3, 5, tzinfo=UTC))  # 08:05 in Almaty
    assert report.due == 30 and report.delivered == 30
    assert report.digests_built == 3


async def test_a_restart_mid_pass_resumes_and_nobody_gets_two(world):
    for chat_id in range(200, 240):
        world.subscribe(chat_id)
    now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
    stopping = asyncio.Event()
    real_bot = world.bot

    class StoppedAfter15:
        """The real bot; SIGTERM arrives once 15 messages are out."""

        sent = 0

        async def send_message(self, *args, **kwargs):
            result = await real_bot.send_message(*args, **kwargs)
            self.sent += 1
            if self.sent == 15:
                stopping.set()  # finish the message in flight, record it, stop
            return result

    world.bot = StoppedAfter15()
    world.config = dataclasses.replace(
        world.config, delivery=dataclasses.replace(world.config.delivery, concurrency=5)
    )
    first = await world.delivery(now, stopping).run()
    assert first.interrupted > 0 and first.delivered < 40
    world.bot = real_bot
    # A new process: a fresh pass over the same database a minute later.
    second = await world.run(now + timedelta(minutes=1))
    assert first.delivered + second.delivered == 40
    for chat_id in range(200, 240):
        assert world.digests(chat_id) == 1, chat_id
        assert get_delivery(world.db, chat_id, date(2026, 11, 25)).status == "sent"
    third = await world.run(now + timedelta(minutes=2))
    assert third.due == 0


async def test_a_crash_mid_pass_loses_nothing_and_repeats_at_most_the_message_in_flight(world):
    for chat_id in range(300, 320):
        world.subscribe(chat_id)
    now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
    task = asyncio.create_task(world.delivery(now).run())
    await world.emulator.wait_until(lambda: world.emulator.stats.sent_messages >= 8, timeout=10)
    task.cancel()  # the process dies: no cleanup, whatever was in flight is lost or not
    with pytest.raises(asyncio.CancelledError):
        await task
    await world.run(now + timedelta(minutes=1))
    counts = [len(world.emulator.sent(c)) for c in range(300, 320)]
    parts = [get_delivery(world.db, c, date(2026, 11, 25)).parts_total for c in range(300, 320)]
    assert all(count >= part for count, part in zip(counts, parts, strict=True))  # nobody missed
    extra = sum(count - part for count, part in zip(counts, parts, strict=True))
    assert extra <= world.config.delivery.concurrency  # at most one per chat in flight


async def test_a_burst_of_429s_is_waited_out_and_everyone_gets_one(world):
    for chat_id in range(400, 420):
        world.subscribe(chat_id)
    strict = BotAPIEmulator(global_rate=5, global_burst=3, per_chat_rate=1000, per_chat_burst=1000)
    # Same subscribers, a stricter server: swap the bot's server for this test.
    strict.start()
    for chat_id in range(400, 420):
        strict.add_user(chat_id, f"User {chat_id}")
    bot = ExtBot(strict.token, base_url=strict.base_url)
    await bot.initialize()
    try:
        world.bot, world.emulator = bot, strict
        now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
        first = await world.run(now)
        assert strict.stats.too_many_requests > 0 and first.retry > 0
        for minute in range(1, 10):
            await asyncio.sleep(1.0)
            report = await world.run(now + timedelta(minutes=minute))
            if report.due == 0:
                break
        assert [world.digests(c) for c in range(400, 420)] == [1] * 20
    finally:
        await bot.shutdown()
        strict.stop()


async def test_a_blocked_user_is_unsubscribed_and_the_rest_still_get_theirs(world):
    for chat_id in (500, 501, 502):
        world.subscribe(chat_id)
    world.emulator.block(501)
    now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
    report = await world.run(now)
    assert report.closed == 1 and report.delivered == 2
    assert not get_subscriber(world.db, 501).active
    assert get_delivery(world.db, 501, date(2026, 11, 25)).status == "failed"
    assert world.digests(500) == world.digests(502) == 1
    again = await world.run(now + timedelta(minutes=1))
    assert again.due == 0


async def test_a_storm_of_5xx_is_retried_with_backoff_and_delivered_once(world):
    for chat_id in range(600, 610):
        world.subscribe(chat_id)
    world.emulator.fail_next(12, 502, methods=["sendMessage"])
    now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
    first = await world.run(now)
    # Twelve failures over ten chats: every failure is followed by a wait that doubles for the
    # same chat, so some chat waited 1 s and then 2 s.
    assert len(world.sleeps) >= 9 and set(world.sleeps) <= {1.0, 2.0, 4.0}
    assert 1.0 in world.sleeps and 2.0 in world.sleeps
    second = await world.run(now + timedelta(minutes=1))
    assert first.delivered + second.delivered == 10
    assert [world.digests(c) for c in range(600, 610)] == [1] * 10


async def test_downtime_past_the_grace_window_skips_that_digest(world, caplog):
    world.subscribe(700, "Asia/Almaty", "08:00", since=T0)  # 03:00 UTC
    world.subscribe(701, "Asia/Almaty", "10:00", since=T0)  # 05:00 UTC
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        report = await world.run(datetime(2026, 11, 25, 6, 30, tzinfo=UTC))  # back at 11:30
    assert report.skipped == 1 and report.delivered == 1
    assert world.digests(700) == 0 and world.digests(701) == 1
    assert get_delivery(world.db, 700, date(2026, 11, 25)).status == "skipped"
    assert any("skipped" in r.getMessage() and "700" in r.getMessage() for r in caplog.records)
    # The next day is delivered as usual.
    await world.run(datetime(2026, 11, 26, 3, 1, tzinfo=UTC))
    assert world.digests(700) == 1


async def test_a_digest_due_before_midnight_is_still_sent_after_it(world):
    world.subscribe(800, "Asia/Almaty", "23:30", since=T0 - timedelta(days=3))  # 18:30 UTC
    await world.run(datetime(2026, 11, 25, 19, 45, tzinfo=UTC))  # 00:45 next day in Almaty
    assert world.digests(800) == 1
    assert get_delivery(world.db, 800, date(2026, 11, 25)).status == "sent"


async def test_deliver_all_sends_today_to_everyone_once(world):
    for chat_id in (900, 901):
        world.subscribe(chat_id, at="20:00")
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    report = await world.run(now, everyone=True)
    assert report.delivered == 2
    await world.run(datetime(2026, 11, 25, 15, 5, tzinfo=UTC))  # 20:05 local: already had it
    assert world.digests(900) == world.digests(901) == 1


def test_deliver_command_runs_one_pass_and_says_what_it_did(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    path = tmp_path / "ops.db"
    db = open_db(path)
    config = load_config(env={})
    load_sample(db, config)
    with BotAPIEmulator(**LIMITS) as emulator:
        for chat_id in (1, 2):
            emulator.add_user(chat_id, f"User {chat_id}")
            save_subscriber(
                db,
                Subscriber(
                    chat_id=chat_id,
                    timezone="UTC",
                    delivery_time="23:59",
                    topics=["economy"],
                    created_at=T0,
                ),
            )
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", emulator.token)
        args = ["--db", str(path), "deliver", "--api-url", emulator.base_url.removesuffix("/bot")]
        refused = CliRunner().invoke(cli, args)
        assert refused.exit_code == 2 and "say --now" in refused.output
        first = CliRunner().invoke(cli, [*args, "--all"])
        assert first.exit_code == 0, first.output
        assert first.output.startswith("2 due: 2 delivered (2 messages, 1 distinct digests)")
        again = CliRunner().invoke(cli, [*args, "--all"])
        assert again.output.startswith("0 due: 0 delivered")
        assert [len(emulator.sent(c)) for c in (1, 2)] == [1, 1]


async def test_a_group_that_became_a_supergroup_keeps_its_digest(world):
    world.emulator.add_group(-42, "Newsroom")
    save_subscriber(
        world.db,
        Subscriber(
            chat_id=-42,
            timezone="Asia/Almaty",
            delivery_time="08:00",
            topics=["economy"],
            created_at=T0,
        ),
    )
    world.emulator.migrate_group(-42, -1000042)
    now = datetime(2026, 11, 25, 3, 1, tzinfo=UTC)
    await world.run(now)
    assert get_subscriber(world.db, -42) is None
    assert get_subscriber(world.db, -1000042).topics == ["economy"]
    assert get_delivery(world.db, -42, date(2026, 11, 25)).status == "moved"
    await world.run(now + timedelta(minutes=1))
    assert world.digests(-1000042) == 1

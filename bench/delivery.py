"""One delivery pass to many subscribers through the local Bot API emulator; print the figures.

    python bench/delivery.py [--subscribers 10000] [--rate 30]

Every subscriber falls due at the same moment, in 20 distinct digests (topic combinations, with
two languages and two time zones among them). The emulator enforces `--rate` messages a second
overall (burst of the same size) and its default per-chat limit; the bot sends through the real
python-telegram-bot ExtBot with the project's PacingRateLimiter (config delivery.global_rate, 29/s)
over HTTP, and one DeliveryPass runs on the real clock a minute after the due moment. The
emulator runs in a child process, so the peak memory shown is the bot's own. Each digest fits in
one message here (digest.per_topic is lowered), so N subscribers make N messages; at 29/s 10,000
take about six minutes (use --subscribers 1000 for a quick run).

Targets (issue 5): at least 95% of the limit sustained, zero 429s after the first second, peak
memory under 200 MB, 0 duplicates and 0 misses.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import logging
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram.ext import ExtBot  # noqa: E402

from bot.app import rate_limiter_for  # noqa: E402
from bot.delivery import DeliveryPass, PassReport  # noqa: E402
from bot.emulator import BotAPIEmulator  # noqa: E402
from digest.config import Config, load_config  # noqa: E402
from digest.demo_data import load_sample  # noqa: E402
from storage.db import open_db  # noqa: E402
from storage.deliveries import digest_messages  # noqa: E402
from storage.records import Subscriber  # noqa: E402
from storage.subscribers import save_subscriber  # noqa: E402

FIRST_CHAT = 10_000_001
ZONES = ("Asia/Almaty", "Asia/Tashkent")
# 20 topic combinations; combination i is read in Russian when i % 5 == 4, in ZONES[i % 2].
COMBOS: tuple[tuple[str, ...], ...] = (
    ("central-asia", "economy"),
    ("kazakhstan",),
    ("kyrgyzstan",),
    ("tajikistan",),
    ("uzbekistan",),
    ("turkmenistan",),
    ("economy",),
    ("energy",),
    ("politics",),
    ("migration",),
    ("climate",),
    ("health",),
    ("technology",),
    ("society",),
    ("transport",),
    ("kazakhstan", "energy"),
    ("tajikistan", "energy"),
    ("uzbekistan", "economy"),
    ("kyrgyzstan", "migration"),
    ("central-asia", "climate", "transport"),
)


class Timeline:
    """When the emulator answered each successful sendMessage and each 429 (perf_counter).

    Lives in the emulator's process: it wraps the emulator's `_dispatch` before `start()` (the
    HTTP server is handed the method then); the server threads call it, hence the lock.
    """

    def __init__(self, emulator: BotAPIEmulator) -> None:
        self.sent: list[float] = []
        self.too_many: list[float] = []
        self._lock = threading.Lock()
        original: Callable[..., Any] = emulator._dispatch

        def dispatch(
            token: str, method: str, content_type: str, body: bytes, query: str
        ) -> tuple[int, dict[str, Any]] | None:
            answer = original(token, method, content_type, body, query)
            if answer is not None and method.lower() == "sendmessage":
                stamp = time.perf_counter()
                with self._lock:
                    if answer[0] == 200:
                        self.sent.append(stamp)
                    elif answer[0] == 429:
                        self.too_many.append(stamp)
            return answer

        emulator._dispatch = dispatch  # type: ignore[method-assign]


def fingerprint(html: str) -> bytes:
    return hashlib.blake2b(html.encode(), digest_size=8).digest()


@dataclasses.dataclass
class EmulatorResults:
    """What the emulator process saw, small enough to hand back to the bot's process."""

    received: dict[int, list[bytes]]  # chat -> fingerprints of the messages it got, in order
    too_many_requests: int
    sent_messages: int
    sent: list[float]  # perf_counter (CLOCK_MONOTONIC, the same in both processes)
    too_many: list[float]
    peak_mb: float


def emulator_process(conn: Connection, rate: float) -> None:
    """Run the emulator and answer the bench's requests: add_users, results, stop."""
    emulator = BotAPIEmulator(global_rate=rate, global_burst=int(rate))
    timeline = Timeline(emulator)
    emulator.start()
    conn.send((emulator.token, emulator.base_url))
    try:
        while True:
            request, payload = conn.recv()
            if request == "add_users":
                for chat_id, language in payload:
                    emulator.add_user(chat_id, f"User {chat_id}", language_code=language)
                conn.send(None)
            elif request == "results":
                stats = emulator.stats
                conn.send(
                    EmulatorResults(
                        received={
                            c: [fingerprint(m.html) for m in emulator.sent(c)] for c in payload
                        },
                        too_many_requests=stats.too_many_requests,
                        sent_messages=stats.sent_messages,
                        sent=sorted(timeline.sent),
                        too_many=sorted(timeline.too_many),
                        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    )
                )
            else:
                break
    finally:
        emulator.stop()


class RemoteEmulator:
    """The emulator in a child process (forked before any thread starts), driven over a pipe."""

    def __init__(self, rate: float) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=emulator_process, args=(child, rate), daemon=True)
        self._process.start()
        self.token, self.base_url = self._conn.recv()

    def add_users(self, users: Iterable[tuple[int, str]]) -> None:
        self._conn.send(("add_users", list(users)))
        self._conn.recv()

    def results(self, chats: Iterable[int]) -> EmulatorResults:
        self._conn.send(("results", list(chats)))
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", None))
            self._process.join(timeout=10)


def rss_mb() -> float:
    """Current resident set size in MB (Linux), 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench_config(rate: float) -> Config:
    """The default config; two articles a topic keep every digest within one message, and the
    bot's pace keeps its default share of Telegram's 30/s when `--rate` is another limit."""
    config = load_config(env={})
    delivery = config.delivery
    if rate != 30:
        delivery = dataclasses.replace(delivery, global_rate=delivery.global_rate * rate / 30)
    return dataclasses.replace(
        config,
        digest=dataclasses.replace(config.digest, per_topic=2),
        delivery=delivery,
    )


def subscribe_all(db: Any, emulator: RemoteEmulator, count: int, due: datetime) -> list[int]:
    """`count` subscribers, all due at `due`, and their users in the emulator; returns the chats."""
    users: list[tuple[int, str]] = []
    with db.atomic():
        for n in range(count):
            chat_id = FIRST_CHAT + n
            combo = n % len(COMBOS)
            language = "ru" if combo % 5 == 4 else "en"
            zone = ZONES[combo % 2]
            users.append((chat_id, language))
            save_subscriber(
                db,
                Subscriber(
                    chat_id=chat_id,
                    language=language,
                    timezone=zone,
                    delivery_time=due.astimezone(ZoneInfo(zone)).strftime("%H:%M"),
                    topics=list(COMBOS[combo]),
                    active=True,
                    created_at=due - timedelta(hours=1),
                ),
                now=due - timedelta(hours=1),
            )
    emulator.add_users(users)
    return [chat_id for chat_id, _ in users]


def check_messages(
    db: Any, received: dict[int, list[bytes]], chats: Iterable[int]
) -> tuple[int, int, int, int]:
    """(duplicates, misses, wrong text, unfinished ledger rows), chat by chat.

    Expected: the ledger's parts of the chat's digest; received: what the emulator recorded.
    """
    rows = {
        r[0]: (r[1], r[2], r[3])
        for r in db.execute("select chat_id, status, parts_total, digest_id from deliveries")
    }
    expected_by_digest: dict[int, list[bytes]] = {}
    duplicates = misses = wrong = unfinished = 0
    for chat_id in chats:
        got = received.get(chat_id, [])
        status, parts, digest_id = rows.get(chat_id, ("none", 1, None))
        if status != "sent":
            unfinished += 1
        duplicates += max(0, len(got) - parts)
        misses += max(0, parts - len(got))
        if digest_id is not None:
            if digest_id not in expected_by_digest:
                expected_by_digest[digest_id] = [
                    fingerprint(m) for m in digest_messages(db, digest_id)
                ]
            expected = expected_by_digest[digest_id]
            wrong += sum(g != e for g, e in zip(got, expected, strict=False))
    return duplicates, misses, wrong, unfinished


def sustained_rate(stamps: list[float], skip: float = 1.0) -> tuple[float, float]:
    """(messages/s from the first to the last message, the same without the first `skip` s)."""
    if len(stamps) < 2:
        return 0.0, 0.0
    overall = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    after = [t for t in stamps if t >= stamps[0] + skip]
    if len(after) < 2:
        return overall, 0.0
    return overall, (len(after) - 1) / (after[-1] - after[0])


async def run(args: argparse.Namespace, emulator: RemoteEmulator) -> None:
    config = bench_config(args.rate)
    limiter = rate_limiter_for(config)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        setup_start = time.perf_counter()
        # Due a minute ago, on the minute; the pass runs on the real clock.
        due = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
        load_sample(db, config, due)
        chats = subscribe_all(db, emulator, args.subscribers, due)
        setup = time.perf_counter() - setup_start
        bot = ExtBot(emulator.token, base_url=emulator.base_url, rate_limiter=limiter)
        await bot.initialize()
        baseline_mb = rss_mb()
        try:
            start = time.perf_counter()
            report: PassReport = await DeliveryPass(db, config, bot).run()
            wall = time.perf_counter() - start
        finally:
            await bot.shutdown()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seen = emulator.results(chats)
        duplicates, misses, wrong, unfinished = check_messages(db, seen.received, chats)

    overall, sustained = sustained_rate(seen.sent)
    first = seen.sent[0] if seen.sent else start
    late_429 = sum(t >= first + 1.0 for t in seen.too_many)
    print(f"subscribers:           {args.subscribers} ({len(COMBOS)} topic combinations)")
    print(f"setup (not timed):     {setup:.1f} s (sample articles, subscribers, emulator users)")
    print(f"due / delivered:       {report.due} / {report.delivered}", end="")
    print(f" (retry {report.retry}, closed {report.closed}, errors {len(report.errors)})")
    print(f"distinct digests:      {report.digests_built} built")
    print(f"messages sent:         {report.messages} (emulator recorded {seen.sent_messages})")
    print(f"wall time of the pass: {wall:.1f} s ({first - start:.2f} s to the first message)")
    print(f"rate, first to last:   {overall:.2f} messages/s")
    print(
        f"sustained (after 1 s): {sustained:.2f} messages/s = "
        f"{100 * sustained / args.rate:.1f}% of the {args.rate:g}/s limit (target >= 95%;"
        f" the bot paces at {config.delivery.global_rate:g}/s)"
    )
    print(
        f"429s received:         {seen.too_many_requests} in all, {late_429} after the first"
        " second (target 0)"
    )
    print(
        f"limiter:               {limiter.stats.sent} paced calls, {limiter.stats.retries}"
        f" retries, {limiter.stats.pauses} pauses"
    )
    print(f"duplicates / misses:   {duplicates} / {misses} (target 0 / 0)")
    print(f"wrong text / unsent:   {wrong} / {unfinished} (ledger rows not 'sent')")
    print(
        f"peak memory (RSS):     {peak_mb:.0f} MB, the bot's process (target < 200;"
        f" {baseline_mb:.0f} MB before the pass); emulator process {seen.peak_mb:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument(
        "--rate", type=float, default=30.0, help="the emulator's global limit, messages/s"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    emulator = RemoteEmulator(args.rate)  # forked before asyncio or any thread starts
    try:
        asyncio.run(run(args, emulator))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()

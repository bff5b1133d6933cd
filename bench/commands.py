"""Many users send a command at once to the real bot polling the local emulator; print latencies.

    python bench/commands.py [--users 200] [--commands "/start,/help"] [--profile] [--no-warmup]

Each simulated user sends one command (a mix of /start, /help, /rates, /rates KZT, /news energy,
/settings, /search Rogun, /digest) at the same moment to the real python-telegram-bot Application
(`build_application`) polling the emulator over HTTP. The emulator runs in a child process (its
threads do not compete with the bot for the GIL), its flood limits are set high, and the bot is
built with rate_limiter=False: per-chat pacing is not what is measured here.

Two latencies per command: end to end, from the emulator handing the update to the bot (its
getUpdates answer) to the bot's reply arriving at the emulator; and the handler alone, from a
TypeHandler in group -1 to one in group 1 around the command's handler (its Bot API calls
included; the time the emulator spent serving them is also shown subtracted). One warm-up round
of every command runs first, so lazy imports and caches are not counted (--no-warmup to count
them). --profile runs cProfile over the bot's thread during the burst and prints the top entries.

Target (issue 5): p99 handling latency under 50 ms, excluding the emulator's own latency (set to
0 here).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import io
import logging
import multiprocessing
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, TypeHandler  # noqa: E402

from bot.app import build_application, start_bot, stop_bot  # noqa: E402
from bot.emulator import BotAPIEmulator  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.demo_data import load_sample  # noqa: E402
from storage.db import open_db  # noqa: E402
from storage.records import Subscriber  # noqa: E402
from storage.subscribers import save_subscriber  # noqa: E402

COMMANDS = (
    "/start",
    "/help",
    "/rates",
    "/news energy",
    "/settings",
    "/search Rogun",
    "/rates KZT",
    "/digest",
)
FIRST_USER = 20_001
WARMUP_USER = 19_999
TARGET_MS = 50.0
HIGH = dict(
    global_rate=1_000_000,
    global_burst=1_000_000,
    per_chat_rate=1_000_000,
    per_chat_burst=1_000_000,
    group_per_minute=1_000_000,
)
REPLIES = frozenset({"sendmessage", "sendphoto"})


class EmulatorTimes:
    """When the emulator handed each update to the bot, and when each reply reached it.

    Runs in the emulator's process: it wraps the emulator's `_dispatch` before `start()` (the
    HTTP server is handed the method then); the server threads call it, hence the lock.
    perf_counter is CLOCK_MONOTONIC, the same clock in both processes.
    """

    def __init__(self, emulator: BotAPIEmulator) -> None:
        self.handed: dict[int, float] = {}  # update_id -> its first getUpdates answer
        self.replies: dict[int, list[float]] = defaultdict(list)  # chat -> reply arrivals
        self.serving: dict[int, float] = defaultdict(float)  # chat -> seconds spent serving it
        self._lock = threading.Lock()
        original: Callable[..., Any] = emulator._dispatch

        def dispatch(
            token: str, method: str, content_type: str, body: bytes, query: str
        ) -> tuple[int, dict[str, Any]] | None:
            began = time.perf_counter()
            answer = original(token, method, content_type, body, query)
            done = time.perf_counter()
            if answer is None or answer[0] != 200:
                return answer
            name, result = method.lower(), answer[1]["result"]
            with self._lock:
                if name == "getupdates":
                    for update in result:
                        self.handed.setdefault(update["update_id"], done)
                elif isinstance(result, dict) and "chat" in result:
                    chat = result["chat"]["id"]
                    self.serving[chat] += done - began
                    if name in REPLIES:
                        self.replies[chat].append(done)
            return answer

        emulator._dispatch = dispatch  # type: ignore[method-assign]

    def snapshot(self) -> tuple[dict[int, float], dict[int, list[float]], dict[int, float]]:
        with self._lock:
            return dict(self.handed), dict(self.replies), dict(self.serving)


def emulator_process(conn: Connection) -> None:
    """Run the emulator and answer the bench's requests: add_users, send, times, stop."""
    emulator = BotAPIEmulator(**HIGH)
    times = EmulatorTimes(emulator)
    emulator.start()
    conn.send((emulator.token, emulator.base_url))
    try:
        while True:
            request, payload = conn.recv()
            if request == "add_users":
                for chat_id, language in payload:
                    emulator.add_user(chat_id, f"User {chat_id}", language_code=language)
                conn.send(None)
            elif request == "send":
                conn.send([emulator.user_sends(chat_id, text) for chat_id, text in payload])
            elif request == "times":
                conn.send(times.snapshot())
            else:
                break
    finally:
        emulator.stop()


class RemoteEmulator:
    """The emulator in a child process (forked before any thread starts), driven over a pipe,
    so that its threads do not compete with the bot for the GIL."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=emulator_process, args=(child,), daemon=True)
        self._process.start()
        self.token, self.base_url = self._conn.recv()

    def add_users(self, users: Iterable[tuple[int, str]]) -> None:
        self._conn.send(("add_users", list(users)))
        self._conn.recv()

    def user_sends(self, messages: Iterable[tuple[int, str]]) -> list[int]:
        """Users write, all at once; the update_id of each message."""
        self._conn.send(("send", list(messages)))
        return self._conn.recv()

    def times(self) -> tuple[dict[int, float], dict[int, list[float]], dict[int, float]]:
        """(update_id -> handed to the bot, chat -> reply arrivals, chat -> serving seconds)."""
        self._conn.send(("times", None))
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", None))
            self._process.join(timeout=10)


class HandlerTimes:
    """Start and end of each update's handling inside the bot: TypeHandlers in groups -1 and 1."""

    def __init__(self, application: Application) -> None:
        self.start: dict[int, float] = {}
        self.end: dict[int, float] = {}
        application.add_handler(TypeHandler(Update, self._begin), group=-1)
        application.add_handler(TypeHandler(Update, self._finish), group=1)

    async def _begin(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.start[update.update_id] = time.perf_counter()

    async def _finish(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.end[update.update_id] = time.perf_counter()

    async def wait(self, update_ids: Sequence[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(u not in self.end for u in update_ids):
            if time.monotonic() > deadline:
                missing = sum(u not in self.end for u in update_ids)
                raise TimeoutError(f"{missing} updates not handled within {timeout} s")
            await asyncio.sleep(0.005)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def row(label: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    cells = [percentile(ms, p) for p in (0.5, 0.9, 0.99)] + [max(ms)]
    return f"{label:<34}" + "".join(f"{c:>9.1f}" for c in cells)


def header(label: str) -> str:
    return f"{label:<34}" + "".join(f"{c:>9}" for c in ("p50", "p90", "p99", "max"))


def setup_users(db: Any, emulator: RemoteEmulator, users: int) -> None:
    """Users; every other one already subscribed (so /settings and /digest have settings)."""
    now = datetime.now(UTC)
    chats = [WARMUP_USER, *range(FIRST_USER, FIRST_USER + users)]
    emulator.add_users((c, "ru" if c % 4 == 3 else "en") for c in chats)
    with db.atomic():
        for chat_id in chats:
            language = "ru" if chat_id % 4 == 3 else "en"
            if chat_id % 2:
                save_subscriber(
                    db,
                    Subscriber(
                        chat_id=chat_id,
                        language=language,
                        timezone="Asia/Almaty",
                        delivery_time="08:00",
                        topics=["central-asia", "economy"],
                        created_at=now,
                    ),
                    now=now,
                )


async def warm_up(
    emulator: RemoteEmulator, handlers: HandlerTimes, commands: Sequence[str]
) -> None:
    """Every command once, one after the other, from a user outside the measurement."""
    for command in commands:
        await handlers.wait(emulator.user_sends([(WARMUP_USER, command)]), timeout=60)


async def run(args: argparse.Namespace, emulator: RemoteEmulator) -> None:
    config = load_config(env={})
    config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, admins=()))
    commands: list[str] = args.commands
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        load_sample(db, config, datetime.now(UTC))
        setup_users(db, emulator, args.users)
        application = build_application(
            config,
            db,
            emulator.token,
            api_url=emulator.base_url.removesuffix("/bot"),
            rate_limiter=False,
        )
        handlers = HandlerTimes(application)
        await start_bot(application, poll_timeout=1)
        try:
            if not args.no_warmup:
                await warm_up(emulator, handlers, commands)
            burst = [(FIRST_USER + n, commands[n % len(commands)]) for n in range(args.users)]
            if profiler:
                profiler.enable()
            update_ids = emulator.user_sends(burst)
            await handlers.wait(update_ids, timeout=300)
            if profiler:
                profiler.disable()
        finally:
            await stop_bot(application)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sent = dict(zip(update_ids, burst, strict=True))  # update_id -> (chat, command)
    report(args, sent, *emulator.times(), handlers, peak_mb)
    if profiler:
        print_profile(profiler)


def report(
    args: argparse.Namespace,
    sent: dict[int, tuple[int, str]],
    handed: dict[int, float],
    replies: dict[int, list[float]],
    serving: dict[int, float],
    handlers: HandlerTimes,
    peak_mb: float,
) -> None:
    first: list[float] = []
    last: list[float] = []
    waited: list[float] = []
    handling: list[float] = []
    net: list[float] = []
    by_command: dict[str, list[float]] = defaultdict(list)
    by_command_net: dict[str, list[float]] = defaultdict(list)
    missing = 0
    for update_id, (chat_id, command) in sent.items():
        arrived = replies.get(chat_id)
        if not arrived or update_id not in handed:
            missing += 1
            continue
        given = handed[update_id]
        first.append(arrived[0] - given)
        last.append(arrived[-1] - given)
        waited.append(handlers.start[update_id] - given)
        alone = handlers.end[update_id] - handlers.start[update_id]
        handling.append(alone)
        net.append(alone - serving.get(chat_id, 0.0))
        by_command[command].append(alone)
        by_command_net[command].append(alone - serving.get(chat_id, 0.0))
    span = max(replies[c][-1] for c, _ in sent.values() if c in replies) - min(
        handed[u] for u in sent if u in handed
    )
    print(f"users / commands:   {args.users}, one command each, sent at once")
    print("bot:                build_application(..., rate_limiter=False): no per-chat pacing")
    print("                    (not what is measured); updates handled one at a time (PTB default)")
    print("emulator:           own process, flood limits set high, latency 0")
    print(f"without a reply:    {missing}")
    print(f"throughput:         {len(first) / span:.0f} commands/s ({span * 1000:.0f} ms for all)")
    print(f"peak memory (RSS):  {peak_mb:.0f} MB (the bot's process)")
    print()
    print(header("latency, ms"))
    print(row("handed -> first reply (end to end)", first))
    print(row("handed -> last reply", last))
    print(row("handed -> handler starts (queued)", waited))
    print(row("handler alone (group -1 .. 1)", handling))
    print(row("handler minus emulator serving", net))
    print()
    print(header("handler alone by command, ms"))
    for command in args.commands:
        if by_command[command]:
            print(row(f"{command} ({len(by_command[command])})", by_command[command]))
    print()
    print(header("... minus emulator serving, ms"))
    for command in args.commands:
        if by_command_net[command]:
            print(row(f"{command} ({len(by_command_net[command])})", by_command_net[command]))
    print()
    for label, values in (("handler alone", net), ("end to end", first)):
        p99 = percentile(values, 0.99) * 1000
        verdict = "met" if p99 < TARGET_MS else "MISSED"
        print(f"target p99 < {TARGET_MS:.0f} ms, {label:<13} {verdict} (p99 {p99:.0f} ms)")


def print_profile(profiler: cProfile.Profile) -> None:
    for key, label in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(25)
        print(f"\n--- cProfile of the bot's thread during the burst, by {label} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--commands",
        type=lambda text: [c.strip() for c in text.split(",") if c.strip()],
        default=list(COMMANDS),
        help="the mix, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the burst")
    parser.add_argument("--no-warmup", action="store_true", help="count first-use costs too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    emulator = RemoteEmulator()  # forked before asyncio or any thread starts
    try:
        asyncio.run(run(args, emulator))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()

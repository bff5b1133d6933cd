"""End to end: the real `newsdigest run` process against the Bot API emulator.

The emulator runs in the test process; the bot is the console script in a subprocess, as an
operator starts it. Everything runs on the real clock: subscribers are made due by choosing
their delivery time a few minutes before the current local time in their zone.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.emulator import BotAPIEmulator
from digest.config import load_config
from digest.demo_data import load_sample
from storage.db import open_db
from storage.deliveries import get_delivery
from storage.records import Subscriber
from storage.subscribers import get_subscriber, save_subscriber

NEWSDIGEST = Path(sys.executable).parent / "newsdigest"
HEADER = "Central Asia digest"  # the first line of every digest (the profile's title)
WELCOME = "Welcome to Central Asia digest!"
ZONES = ["Asia/Almaty", "Asia/Tashkent", "Europe/Moscow", "America/New_York", "UTC"]


# -- the pieces: emulator, config, database, the process ---------------------------------------


@pytest.fixture
def token() -> str:
    """A token shaped like a real one, and unique, so a leak into the logs cannot hide."""
    return f"{7_000_000_000 + secrets.randbelow(10**9)}:AAE{secrets.token_urlsafe(30)}"


@pytest.fixture
def emulator(token) -> Iterator[BotAPIEmulator]:
    emulator = BotAPIEmulator(token=token).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def api_root(emulator: BotAPIEmulator) -> str:
    """What `--api-url` and `[bot] api_url` take: the server root, without "/bot"."""
    return emulator.base_url.removesuffix("/bot")


def write_config(
    tmp_path: Path, api_url: str | None = None, delivery: dict[str, float] | None = None
) -> Path:
    """The operator's TOML: no feeds and an offline rates source (the process must not reach the
    internet), a delivery pass every second, and the emulator as the Bot API if given."""
    settings = {"pass_every_seconds": 1.0, **(delivery or {})}
    lines = [
        "feeds = []",
        "",
        "[rates]",
        'currencies = ["TMT"]',
        'default_chain = ["cbtm-fixed"]',
        "",
        "[delivery]",
        *(f"{key} = {value!r}" for key, value in settings.items()),
    ]
    if api_url:
        lines += ["", "[bot]", f'api_url = "{api_url}"']
    path = tmp_path / "newsdigest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare_db(tmp_path: Path, config_path: Path):
    """The database the process will use, with the bundled sample as today's news."""
    db = open_db(tmp_path / "run.db")
    load_sample(db, load_config(config_path, env={}), datetime.now(UTC))
    return db


def subscribe_due(db, emulator: BotAPIEmulator, chat_ids, minutes_ago: int = 3) -> dict:
    """Subscribers whose delivery time passed `minutes_ago` minutes ago in their zone; they
    subscribed an hour ago, so today's digest (and not yesterday's) is theirs. Returns
    {chat_id: the local date of the digest that is due}."""
    now = datetime.now(UTC)
    days = {}
    for index, chat_id in enumerate(chat_ids):
        zone = ZONES[index % len(ZONES)]
        due_local = now.astimezone(ZoneInfo(zone)) - timedelta(minutes=minutes_ago)
        emulator.add_user(chat_id, f"User {chat_id}")
        save_subscriber(
            db,
            Subscriber(
                chat_id=chat_id,
                language="en",
                timezone=zone,
                delivery_time=due_local.strftime("%H:%M"),
                topics=["central-asia", "economy"],
                active=True,
                created_at=now - timedelta(hours=1),
            ),
        )
        days[chat_id] = due_local.date()
    return days


class BotProcess:
    """`newsdigest --config CFG --db DB run ARGS` in a subprocess; its output goes to files."""

    def __init__(
        self, tmp_path: Path, token: str, config: Path, *args: str, env=None, verbose="-v"
    ) -> None:
        self.token = token
        runs = sorted(tmp_path.glob("run-*.stderr"))
        self.stdout_path = tmp_path / f"run-{len(runs)}.stdout"
        self.stderr_path = tmp_path / f"run-{len(runs)}.stderr"
        command = [
            str(NEWSDIGEST),
            verbose,
            "--config",
            str(config),
            "--db",
            str(tmp_path / "run.db"),
        ]
        environment = {
            "PATH": os.environ.get("PATH", str(NEWSDIGEST.parent)),
            "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": token,
            **(env or {}),
        }
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*command, "run", *args], cwd=tmp_path, env=environment, stdout=out, stderr=err
            )

    @property
    def output(self) -> str:
        """Everything the process wrote so far, stdout and stderr."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `condition` until it holds; fail early, with the log, if the process dies."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the bot exited ({self.proc.returncode}) before {what}:\n{self.output}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout} s: {what}\n--- bot output:\n{self.output}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 8.0) -> tuple[int, float]:
        """SIGTERM, as systemd or docker stop sends it; (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {timeout} s of SIGTERM\n--- bot output:\n{self.output}")
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def assert_no_token_in_output(self) -> None:
        output = self.output
        assert self.token not in output
        assert self.token.split(":", 1)[1] not in output  # not even the secret half


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    """Every bot process a test starts is killed at the end, whatever happened."""
    started: list[BotProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def digests(emulator: BotAPIEmulator, chat_id: int) -> int:
    """How many digests a chat received (each one message here, starting with the title)."""
    return sum(m.text.startswith(HEADER) for m in emulator.sent(chat_id))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the tests ---------------------------------------------------------------------------------


def test_polling_registers_commands_answers_start_and_never_logs_the_token(
    tmp_path, token, emulator, processes
):
    config = write_config(tmp_path)  # the API URL on the command line this time
    prepare_db(tmp_path, config)
    # -vv: debug logs carry every Bot API call, the likeliest place for the token to leak.
    bot = BotProcess(tmp_path, token, config, "--api-url", api_root(emulator), verbose="-vv")
    processes.append(bot)

    bot.wait_until(lambda: {"", "ru"} <= set(emulator.commands), 20, "setMyCommands for en and ru")
    names = [c["command"] for c in emulator.commands[""]]
    assert names[0] == "start" and "digest" in names and "help" in names
    assert [c["command"] for c in emulator.commands["ru"]] == names

    aida = emulator.add_user(4201, "Aida")
    emulator.user_sends(aida, "/start")
    bot.wait_until(lambda: emulator.sent(aida), 10, "the answer to /start")
    [welcome] = emulator.sent(aida)
    assert welcome.text.startswith(WELCOME), welcome.text
    assert get_subscriber(open_db(tmp_path / "run.db"), aida).active

    code, seconds = bot.terminate()
    assert code == 0, bot.output
    assert "Traceback" not in bot.output
    bot.assert_no_token_in_output()


def test_due_subscribers_each_get_one_digest_from_the_running_process(
    tmp_path, token, emulator, processes
):
    config = write_config(tmp_path, api_root(emulator))
    db = prepare_db(tmp_path, config)
    days = subscribe_due(db, emulator, range(1001, 1011))
    bot = BotProcess(tmp_path, token, config)
    processes.append(bot)

    # The bot records a message in the ledger just after Telegram confirms it: wait for both.
    bot.wait_until(
        lambda: all(
            digests(emulator, c) and get_delivery(db, c, day).status == "sent"
            for c, day in days.items()
        ),
        15,
        "a digest for every due subscriber, recorded as sent",
    )
    for chat_id, day in days.items():
        row = get_delivery(db, chat_id, day)
        assert row is not None and row.status == "sent", (chat_id, row)
        assert row.parts_sent == row.parts_total == 1

    # More passes run (each one delivers to a subscriber added meanwhile, which proves it ran);
    # none of them sends the first ten anything again.
    for canary in (1100, 1101, 1102):
        subscribe_due(db, emulator, [canary])
        bot.wait_until(lambda c=canary: digests(emulator, c) == 1, 10, f"a pass for {canary}")
    assert [digests(emulator, c) for c in days] == [1] * len(days)
    assert all(len(emulator.sent(c)) == 1 for c in days)

    code, _ = bot.terminate()
    assert code == 0, bot.output
    assert "Traceback" not in bot.output
    bot.assert_no_token_in_output()


def sigterm_mid_pass_then_restart(tmp_path, token, processes, delivery: dict) -> None:
    """40 subscribers due; SIGTERM once 8 digests are out; check the process and the ledger;
    start it again and check that everyone ends with exactly one digest."""
    # Telegram's limits slower than usual, and the bot pacing itself under them: 40 digests
    # take about five seconds, so the SIGTERM lands in the middle of the pass.
    slow = BotAPIEmulator(token=token, global_rate=10, global_burst=10).start()
    try:
        config = write_config(tmp_path, api_root(slow), {"global_rate": 8.0, **delivery})
        db = prepare_db(tmp_path, config)
        chats = list(range(2001, 2041))
        days = subscribe_due(db, slow, chats)
        first = BotProcess(tmp_path, token, config)
        processes.append(first)

        first.wait_until(lambda: slow.stats.sent_messages >= 8, 20, "the pass under way")
        code, seconds = first.terminate()
        assert code == 0, first.output
        got = {c: digests(slow, c) for c in chats}
        assert set(got.values()) <= {0, 1}, got
        # Only what was in flight went out after the signal (8 a second at most).
        assert sum(got.values()) < len(chats), f"all 40 sent after SIGTERM, in {seconds:.1f} s"
        assert seconds < 2.5, f"took {seconds:.1f} s to stop"
        # The ledger says what Telegram got: no chat marked sent without its message, and an
        # unfinished row counts exactly the messages that arrived.
        for chat_id in chats:
            row = get_delivery(db, chat_id, days[chat_id])
            if got[chat_id]:
                assert row is not None and row.status == "sent", (chat_id, row)
                assert row.parts_sent == row.parts_total == 1
            else:
                assert row is None or (row.status != "sent" and row.parts_sent == 0), row

        second = BotProcess(tmp_path, token, config)
        processes.append(second)
        second.wait_until(
            lambda: all(digests(slow, c) for c in chats), 20, "the rest after the restart"
        )
        code, _ = second.terminate()  # after this no more passes: the counts are final
        assert code == 0, second.output
        assert [digests(slow, c) for c in chats] == [1] * len(chats)
        assert all(len(slow.sent(c)) == 1 for c in chats)
        for chat_id in chats:
            row = get_delivery(db, chat_id, days[chat_id])
            assert row.status == "sent" and row.parts_sent == row.parts_total == 1, row
        assert slow.stats.too_many_requests == 0
        for process in (first, second):
            assert "Traceback" not in process.output
            process.assert_no_token_in_output()
    finally:
        slow.stop()


def test_sigterm_mid_pass_records_what_went_out_and_a_restart_sends_the_rest_once(
    tmp_path, token, processes
):
    # Four chats served at once: at the signal at most four messages are on their way.
    sigterm_mid_pass_then_restart(tmp_path, token, processes, {"concurrency": 4})


def test_sigterm_mid_pass_with_the_default_concurrency_stops_promptly(tmp_path, token, processes):
    sigterm_mid_pass_then_restart(tmp_path, token, processes, {})


def test_webhook_mode_takes_updates_with_the_secret_and_refuses_the_rest(
    tmp_path, token, emulator, processes
):
    config = write_config(tmp_path, api_root(emulator))
    prepare_db(tmp_path, config)
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    secret = "s3cret-" + secrets.token_hex(8)
    bot = BotProcess(
        tmp_path,
        token,
        config,
        *("--webhook", url, "--listen", "127.0.0.1", "--port", str(port)),
        env={"TELEGRAM_WEBHOOK_SECRET": secret},
    )
    processes.append(bot)

    def webhook_info() -> dict:
        answer = httpx.get(f"{emulator.base_url}{token}/getWebhookInfo", timeout=5)
        return answer.json()["result"]

    bot.wait_until(lambda: webhook_info()["url"] == url, 20, "setWebhook")
    assert emulator._state.webhook.secret_token == secret  # Telegram keeps it; the API hides it
    bot.wait_until(lambda: {"", "ru"} <= set(emulator.commands), 10, "setMyCommands")

    aida = emulator.add_user(4301, "Aida")
    emulator.user_sends(aida, "/start")
    bot.wait_until(lambda: emulator.sent(aida), 10, "the answer to /start via the webhook")
    [welcome] = emulator.sent(aida)
    assert welcome.text.startswith(WELCOME), welcome.text
    assert "last_error_message" not in webhook_info()

    # Someone who found the URL posts an update of their own: without the secret, or a wrong one.
    eve = emulator.add_user(4302, "Eve")
    forged = {
        "update_id": 999_999_001,
        "message": {
            "message_id": 77,
            "date": int(time.time()),
            "chat": {"id": eve, "type": "private", "first_name": "Eve"},
            "from": {"id": eve, "is_bot": False, "first_name": "Eve", "language_code": "en"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "not-" + secret}):
        answer = httpx.post(url, content=json.dumps(forged), timeout=5, headers=headers)
        assert answer.status_code == 403, (headers, answer.status_code, answer.text)
        forged["update_id"] += 1

    # A real update after them is answered; by then the forged ones would have been too.
    emulator.user_sends(aida, "/help")
    bot.wait_until(lambda: emulator.sent(aida)[1:], 10, "the answer to /help")
    assert emulator.sent(eve) == []
    assert get_subscriber(open_db(tmp_path / "run.db"), eve) is None

    code, _ = bot.terminate()
    assert code == 0, bot.output
    assert "Traceback" not in bot.output
    bot.assert_no_token_in_output()
    assert secret not in bot.output

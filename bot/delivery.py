"""A delivery pass: build each distinct digest once, send it to every chat that is due, record it.

Exactly once, as far as Telegram allows: the ledger row of a (chat, day) is written before the
first message and advanced after every message that Telegram confirmed. A crash or a restart
resumes each unfinished delivery at its first unconfirmed message, so the only message that can
arrive twice is one that was in flight at the crash (Telegram has no idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.i18n import presentation
from bot.ratelimit import StoppedWaiting
from digest.build import build_digest
from digest.config import Config
from digest.render import render_html
from digest.schedule import DueDigest, ledger_days, plan
from storage import deliveries as ledger_store
from storage.subscribers import active_subscribers, move_subscriber, set_active

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class PassReport:
    """What one pass did, for logs, /stats and `newsdigest deliver`."""

    due: int = 0
    delivered: int = 0
    messages: int = 0
    digests_built: int = 0
    skipped: int = 0  # fell due longer ago than the grace window
    retry: int = 0  # transient failures: the next pass resumes them
    closed: int = 0  # blocked the bot, deleted, or not found: unsubscribed
    interrupted: int = 0  # stopped (shutdown) before they were finished
    errors: list[str] = field(default_factory=list)


def render_digest(
    db: Database,
    config: Config,
    topics: Sequence[str] | None,
    language: str,
    timezone: str,
    now: datetime,
) -> list[str]:
    """The messages of the digest of the last `window_hours` on `topics`, as one reader sees it.

    `topics` None means every configured topic; an empty list, none (the rates alone).
    """
    digest = build_digest(
        db,
        config,
        since=now - timedelta(hours=config.digest.window_hours),
        until=now,
        topics=topics,
        language=language,
    )
    return render_html(digest, style=presentation(language, timezone))


class DeliveryPass:
    """One pass over the subscribers who are due at `now`."""

    def __init__(
        self,
        db: Database,
        config: Config,
        bot: Bot,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        stopping: asyncio.Event | None = None,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.config = config
        self.bot = bot
        self.clock = now
        self.stopping = stopping or asyncio.Event()
        self.sleep = sleep
        self.report = PassReport()
        self._digests: dict[tuple, tuple[int, int]] = {}

    async def run(self, *, everyone: bool = False) -> PassReport:
        """Plan, skip what is too late, then send to every due chat, many chats at once."""
        now = self.clock()
        grace = timedelta(hours=self.config.delivery.grace_hours)
        rows = ledger_store.ledger(self.db, ledger_days(now))
        due, missed = plan(active_subscribers(self.db), rows, now, grace, everyone=everyone)
        for item in missed:
            log.warning(
                "digest of %s for chat %s fell due at %s, more than %s ago: skipped",
                item.digest_date,
                item.subscriber.chat_id,
                item.due_at,
                grace,
            )
            ledger_store.finish(
                self.db,
                item.subscriber.chat_id,
                item.digest_date,
                "skipped",
                now,
                error="past the grace window",
                due_at=item.due_at,
            )
        self.report.skipped = len(missed)
        self.report.due = len(due)
        limit = asyncio.Semaphore(self.config.delivery.concurrency)

        async def serve(item: DueDigest) -> None:
            async with limit:
                if not self.stopping.is_set():
                    await self._deliver(item)
                else:
                    self.report.interrupted += 1

        await asyncio.gather(*(serve(item) for item in due))
        return self.report

    def _digest_for(self, item: DueDigest) -> tuple[int, int]:
        """(digest id, number of messages) of the subscriber's digest, built once per pass."""
        subscriber = item.subscriber
        key = (tuple(subscriber.topics), subscriber.language, subscriber.timezone)
        if key not in self._digests:
            now = self.clock()
            messages = render_digest(
                self.db,
                self.config,
                subscriber.topics,
                subscriber.language,
                subscriber.timezone,
                now,
            )
            digest_id = ledger_store.save_digest(self.db, repr(key), messages, now)
            self._digests[key] = (digest_id, len(messages))
            self.report.digests_built += 1
        return self._digests[key]

    async def _deliver(self, item: DueDigest) -> None:
        chat_id, day = item.subscriber.chat_id, item.digest_date
        digest_id, parts = self._digest_for(item)
        row = ledger_store.claim(self.db, chat_id, day, item.due_at, digest_id, parts, self.clock())
        if row.status in ledger_store.DONE:
            return
        messages = ledger_store.digest_messages(self.db, row.digest_id)
        for index in range(row.parts_sent, len(messages)):
            if self.stopping.is_set():
                # Shutting down: what is out is recorded; the rest goes after the restart.
                self.report.interrupted += 1
                return
            outcome = await self._send(chat_id, messages[index])
            if outcome == "stopped":
                # The message never left: the ledger row resumes it after the restart.
                self.report.interrupted += 1
                return
            if outcome == "ok":
                ledger_store.part_sent(self.db, chat_id, day, index + 1, self.clock())
                self.report.messages += 1
                continue
            self._settle_failure(item, outcome)
            return
        self.report.delivered += 1

    async def _send(self, chat_id: int, text: str) -> str:
        """Send one message; 'ok', or what went wrong: closed, moved:<id>, retry, bad:<why>."""
        settings = self.config.delivery
        backoff = settings.retry_backoff_seconds
        for attempt in range(settings.retry_attempts + 1):
            try:
                await self.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                )
                return "ok"
            except StoppedWaiting:
                return "stopped"
            except Forbidden as exc:
                return f"closed:{exc.message}"
            except ChatMigrated as exc:
                return f"moved:{exc.new_chat_id}"
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    return f"closed:{exc.message}"
                return f"bad:{exc.message}"
            except RetryAfter:
                return "retry"  # the rate limiter already waited and retried
            except NetworkError as exc:  # 5xx, timeouts, dropped connections
                if attempt == settings.retry_attempts:
                    log.warning("chat %s: giving up for this pass after %s", chat_id, exc)
                    return "retry"
                await self.sleep(backoff)
                backoff *= 2
        return "retry"

    def _settle_failure(self, item: DueDigest, outcome: str) -> None:
        chat_id, day, now = item.subscriber.chat_id, item.digest_date, self.clock()
        kind, _, detail = outcome.partition(":")
        if kind == "closed":
            log.info("chat %s is closed to the bot (%s): unsubscribed", chat_id, detail)
            set_active(self.db, chat_id, False, now)
            ledger_store.finish(self.db, chat_id, day, "failed", now, error=detail)
            self.report.closed += 1
        elif kind == "moved":
            log.info("chat %s became %s: the subscription moves", chat_id, detail)
            move_subscriber(self.db, chat_id, int(detail))
            ledger_store.finish(self.db, chat_id, day, "moved", now, error=f"now {detail}")
            self.report.retry += 1
        elif kind == "bad":
            log.error("chat %s: Telegram refused the digest: %s", chat_id, detail)
            ledger_store.finish(self.db, chat_id, day, "failed", now, error=detail)
            self.report.errors.append(f"{chat_id}: {detail}")
        else:
            ledger_store.finish(self.db, chat_id, day, "retry", now, error="transient failure")
            self.report.retry += 1

"""Recurring work on python-telegram-bot's JobQueue: delivery passes, feeds, rates, pruning.

Jobs live in memory; what must survive a restart (who got which digest) lives in the ledger,
so a restarted bot simply finds the same chats due and resumes them.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import Application, ContextTypes

from bot.app import Services
from bot.delivery import DeliveryPass
from digest.pipeline import fetch_and_store
from digest.rates_fetch import fetch_rates, store_rates
from storage.articles import prune_articles
from storage.deliveries import prune_deliveries

log = logging.getLogger(__name__)

# One pass at a time; a pass still running when the next falls due makes that one wait its turn.
ONE_AT_A_TIME = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


async def delivery_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the digests that are due now."""
    svc = services(context)
    report = await DeliveryPass(
        svc.db, svc.config, context.bot, now=svc.now, stopping=svc.stopping
    ).run()
    if report.due or report.skipped:
        log.info(
            "delivery pass: %d due, %d delivered (%d messages, %d digests built), %d skipped, "
            "%d to retry, %d closed chats, %d interrupted",
            report.due,
            report.delivered,
            report.messages,
            report.digests_built,
            report.skipped,
            report.retry,
            report.closed,
            report.interrupted,
        )


async def feeds_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One ingestion pass over the feeds."""
    svc = services(context)
    reports = await fetch_and_store(svc.db, svc.config, now=svc.now())
    failed = [r.name for r in reports if r.status == "error"]
    log.info(
        "feeds: %d new articles, %d feeds failed %s",
        sum(r.new for r in reports),
        len(failed),
        failed or "",
    )


async def rates_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Today's rates from each currency's chain of sources."""
    svc = services(context)
    report = await fetch_rates(svc.config)
    stored = store_rates(svc.db, report, svc.now())
    missing = [o.currency for o in report.outcomes if o.observation is None]
    log.info("rates: %d new observations; no source answered for %s", stored, missing or "none")


async def prune_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget articles and ledger rows older than the configured number of days."""
    svc = services(context)
    cutoff = svc.now() - timedelta(days=svc.config.schedule.prune_after_days)
    articles = prune_articles(svc.db, cutoff)
    rows = prune_deliveries(svc.db, cutoff.date())
    log.info("pruned %d articles and %d delivery records", articles, rows)


def schedule_jobs(application: Application) -> None:
    """Register the recurring jobs from the config."""
    svc: Services = application.bot_data["services"]
    config = svc.config
    queue = application.job_queue
    zone = ZoneInfo(config.bot.default_timezone)
    queue.run_repeating(
        delivery_job,
        interval=config.delivery.pass_every_seconds,
        first=1,
        name="delivery",
        job_kwargs=ONE_AT_A_TIME,
    )
    if config.feeds:
        queue.run_repeating(
            feeds_job,
            interval=config.schedule.fetch_feeds_minutes * 60,
            first=5,
            name="feeds",
            job_kwargs=ONE_AT_A_TIME,
        )
    queue.run_once(rates_job, when=10, name="rates-at-start")
    for hhmm in config.schedule.fetch_rates_times:
        hours, minutes = (int(x) for x in hhmm.split(":"))
        queue.run_daily(rates_job, time(hours, minutes, tzinfo=zone), name=f"rates-{hhmm}")
    queue.run_daily(prune_job, time(3, 30, tzinfo=zone), name="prune")

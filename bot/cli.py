"""The `newsdigest` command line: a thin layer over the functions the bot uses."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlite_utils import Database

from digest.build import UnknownTopicError, build_digest
from digest.config import Config, ConfigError, load_config, resolve_db_path
from digest.render import article_dict, render_html, render_json, render_text
from digest.timespec import TimeSpecError, parse_since
from storage.articles import count_articles, recent_articles
from storage.db import open_db
from storage.rates import count_rates

log = logging.getLogger("newsdigest")


class Context:
    """What every subcommand needs: the config (loaded once) and the database path."""

    def __init__(self, config_path: str | None, db_path: str | None) -> None:
        self._config_path = config_path
        self._db_path = db_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self._config_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    @property
    def db_path(self) -> str:
        return resolve_db_path(self._db_path, self.config)

    def db(self) -> Database:
        try:
            return open_db(self.db_path)
        except Exception as exc:  # unreadable file, not a database, locked...
            raise click.ClickException(f"cannot open database {self.db_path}: {exc}") from None


pass_ctx = click.make_pass_decorator(Context)


def _topics_option(value: str | None, config: Config) -> list[str] | None:
    if value is None:
        return None
    keys = list(dict.fromkeys(k.strip().lower() for k in value.split(",") if k.strip()))
    if not keys:
        raise click.BadParameter("give topic keys separated by commas, e.g. economy,energy")
    unknown = [k for k in keys if config.topic(k) is None]
    if unknown:
        known = ", ".join(t.key for t in config.topics)
        raise click.BadParameter(f"unknown topic '{unknown[0]}'; known topics: {known}")
    return keys


def _currencies_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    codes = list(dict.fromkeys(c.strip().upper() for c in value.split(",") if c.strip()))
    bad = [c for c in codes if not (len(c) == 3 and c.isalpha())]
    if not codes or bad:
        raise click.BadParameter(
            f"'{bad[0] if bad else value}' is not a currency code: use three letters, e.g. KZT,UZS"
        )
    return codes


def _since_option(value: str | None, now: datetime, config: Config) -> datetime:
    if not value:
        return now - timedelta(hours=config.digest.window_hours)
    try:
        return parse_since(value, now)
    except TimeSpecError as exc:
        raise click.BadParameter(str(exc)) from None


def _ensure_sample(ctx: Context, db: Database, allowed: bool) -> None:
    """On an empty database, load the bundled sample so a first run shows a real digest.

    Only with the built-in profile: an operator's own database never gets invented stories.
    """
    if not allowed or ctx.config.source != "built-in default" or count_articles(db) > 0:
        return
    from digest.demo_data import load_sample

    stats, rates = load_sample(db, ctx.config)
    click.echo(
        f"The database {ctx.db_path} was empty: loaded the bundled sample "
        f"({stats.new} articles, {rates} rates). Run `newsdigest fetch` for live news.",
        err=True,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar="NEWSDIGEST_CONFIG",
    help="TOML config file (default: the built-in Central Asia profile).",
)
@click.option(
    "--db",
    "db_path",
    metavar="FILE",
    help="SQLite database file (default: $NEWSDIGEST_DB or newsdigest.db).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="newsdigest")
@click.pass_context
def cli(
    click_ctx: click.Context, config_path: str | None, db_path: str | None, verbose: int
) -> None:
    """newsdigest: a Telegram news digest with currency rates (Central Asia by default)."""
    # Commands print their own per-feed and per-source lines; the log adds detail with -v.
    level = (logging.ERROR, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click_ctx.obj = Context(config_path, db_path)


@cli.command()
@click.option("--topics", metavar="KEYS", help="Comma-separated topic keys (default: all).")
@click.option(
    "--since",
    metavar="WHEN",
    help="Start of the window: 24h, 3d, or a date (default: the config's window).",
)
@click.option(
    "--currencies", metavar="CODES", help="Comma-separated currency codes (default: the config's)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
    help="html prints the Telegram messages separated by ---.",
)
@click.option(
    "--no-sample", is_flag=True, help="Do not load the bundled sample into an empty database."
)
@pass_ctx
def preview(
    ctx: Context,
    topics: str | None,
    since: str | None,
    currencies: str | None,
    fmt: str,
    no_sample: bool,
) -> None:
    """Print the digest for a window, as text, Telegram HTML or JSON."""
    config = ctx.config
    now = datetime.now(UTC)
    keys = _topics_option(topics, config)
    start = _since_option(since, now, config)
    codes = _currencies_option(currencies)
    db = ctx.db()
    _ensure_sample(ctx, db, not no_sample)
    try:
        digest = build_digest(db, config, since=start, until=now, topics=keys, currencies=codes)
    except UnknownTopicError as exc:
        raise click.BadParameter(f"unknown topic '{exc}'") from None
    if fmt == "json":
        click.echo(render_json(digest))
    elif fmt == "html":
        click.echo("\n---\n".join(render_html(digest)))
    else:
        click.echo(render_text(digest), nl=False)


@cli.command()
@click.option("--topic", metavar="KEY", help="Only articles with this topic.")
@click.option(
    "--since", metavar="WHEN", default="30d", show_default=True, help="24h, 3d, or a date."
)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def articles(ctx: Context, topic: str | None, since: str, limit: int, fmt: str) -> None:
    """List stored articles: title, url, sources, published, topics, summary."""
    config = ctx.config
    now = datetime.now(UTC)
    keys = _topics_option(topic, config)
    start = _since_option(since, now, config)
    found = recent_articles(ctx.db(), start, now, topics=keys, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([article_dict(a) for a in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("No articles stored for that selection.")
    for article in found:
        click.echo(click.style(article.title, bold=True))
        click.echo(f"  {article.url}")
        click.echo(
            f"  sources: {', '.join(article.sources)}   published: "
            f"{article.published:%Y-%m-%d %H:%M} UTC"
        )
        topics_line = ", ".join(
            f"{k} ({v:.2f})" for k, v in sorted(article.topics.items(), key=lambda kv: -kv[1])
        )
        click.echo(f"  topics: {topics_line or '—'}")
        if article.summary:
            click.echo(f"  {article.summary}")
        click.echo("")


@cli.command()
@pass_ctx
def fetch(ctx: Context) -> None:
    """Run one ingestion pass over all feeds, with a progress bar and a line per feed."""
    import asyncio

    from digest.pipeline import fetch_and_store

    config = ctx.config
    db = ctx.db()
    if not config.feeds:
        raise click.ClickException("no feeds are configured: add [[feeds]] to the config file")
    with click.progressbar(
        length=len(config.feeds), label="Fetching feeds", file=sys.stderr
    ) as bar:
        reports = asyncio.run(fetch_and_store(db, config, on_report=lambda _: bar.update(1)))
    width = max(len(r.name) for r in reports)
    for r in reports:
        if r.status == "ok":
            detail = f"{r.entries} entries, {r.new} new, {r.duplicates} already known"
        elif r.status == "not-modified":
            detail = "not modified since last fetch"
        elif r.status == "skipped":
            detail = "skipped: waiting after earlier failures (see `newsdigest feeds`)"
        else:
            detail = r.error or "failed"
        mark = {"ok": "ok", "not-modified": "ok", "skipped": "--"}.get(r.status, "!!")
        click.echo(f"{mark} {r.name:<{width}}  {detail}  ({r.elapsed:.1f}s)")
    new = sum(r.new for r in reports)
    failed = sum(r.status == "error" for r in reports)
    click.echo(f"{new} new articles from {len(reports)} feeds; {failed} failed.")


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


@cli.command()
@pass_ctx
def feeds(ctx: Context) -> None:
    """Show each configured feed's state: last success, last error, next try."""
    from storage.feeds import feed_states

    states = feed_states(ctx.db())
    for feed in ctx.config.feeds:
        state = states.get(feed.url)
        click.echo(click.style(feed.name, bold=True) + f"  {feed.url}")
        if state is None:
            click.echo("  never fetched")
            continue
        click.echo(
            f"  status: {state.last_status}   last success: {_when(state.last_ok)}"
            f"   articles stored: {state.articles_total}"
        )
        if state.last_error:
            click.echo(f"  last error: {state.last_error} ({state.failures} failure(s) in a row)")
        if state.next_try and state.failures:
            click.echo(f"  next try: {_when(state.next_try)}")


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source", help="Source name for the articles (default: from the file, or its name)."
)
@pass_ctx
def import_(ctx: Context, paths: tuple[Path, ...], source: str | None) -> None:
    """Store articles from local files: RSS/Atom XML, a saved HTML page, or Markdown."""
    from digest.importer import ImportFileError, read_entries
    from digest.ingest import Ingestor

    db = ctx.db()
    ingestor = Ingestor(db, ctx.config)
    failed = 0
    for path in paths:
        try:
            entries = read_entries(path, source)
        except ImportFileError as exc:
            click.echo(f"!! {exc}", err=True)
            failed += 1
            continue
        stats = ingestor.ingest(entries)
        click.echo(
            f"{path}: {len(entries)} articles read, {stats.new} new, "
            f"{stats.duplicates} already stored"
            + (f", {stats.skipped} unusable" if stats.skipped else "")
        )
    if failed:
        raise click.ClickException(f"{failed} of {len(paths)} files could not be imported")


@cli.command()
@pass_ctx
def topics(ctx: Context) -> None:
    """List the configured topics: key, label and kind."""
    for topic in ctx.config.topics:
        click.echo(f"{topic.key:<14} {topic.label:<30} {topic.kind}")


@cli.command()
@click.option(
    "--fetch", "do_fetch", is_flag=True, help="Fetch today's rates from the sources first."
)
@click.option(
    "--currencies", metavar="CODES", help="Comma-separated codes (default: the config's)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
)
@click.option("--chart", metavar="CODE", help="Draw this currency's history as a PNG instead.")
@click.option(
    "--days",
    type=click.IntRange(3, 3660),
    default=30,
    show_default=True,
    help="How many days the chart covers.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the chart (default: CODE.png).",
)
@click.option(
    "--no-sample", is_flag=True, help="Do not load the bundled sample into an empty database."
)
@pass_ctx
def rates(
    ctx: Context,
    do_fetch: bool,
    currencies: str | None,
    fmt: str,
    chart: str | None,
    days: int,
    out: Path | None,
    no_sample: bool,
) -> None:
    """Print the rates block the digest uses; --fetch updates it, --chart draws one currency."""
    import asyncio

    from digest.rates import rate_lines
    from digest.render import render_rates_html, render_rates_json, render_rates_text

    config = ctx.config
    db = ctx.db()
    codes = _currencies_option(currencies) or list(config.rates.currencies)
    if do_fetch:
        from digest.rates_fetch import fetch_rates, store_rates

        report = asyncio.run(fetch_rates(config, currencies=codes))
        store_rates(db, report)
        for outcome in report.outcomes:
            if outcome.currency not in codes:
                continue
            for _, reason in outcome.failures:
                click.echo(f"   {outcome.currency}: {reason}", err=True)
            if outcome.observation:
                click.echo(
                    f"ok {outcome.currency}: {outcome.observation.source} "
                    f"({outcome.observation.as_of})",
                    err=True,
                )
            else:
                click.echo(f"!! {outcome.currency}: no source answered", err=True)
        click.echo(f"{report.stored} new observations stored.", err=True)
    elif not no_sample and count_rates(db) == 0:
        _ensure_sample(ctx, db, True)
    today = _region_today(config)
    if chart is not None:
        code = _currencies_option(chart)[0]
        _write_chart(db, config, code, days, today, out or Path(f"{code}.png"))
        return
    lines = rate_lines(db, codes, config.rates.base, today, chains=config.rates.chains)
    missing = [c for c in codes if c not in {line.currency for line in lines}]
    if fmt == "json":
        click.echo(render_rates_json(lines))
    elif fmt == "html":
        click.echo(render_rates_html(lines))
    else:
        click.echo(render_rates_text(lines), nl=False)
    if missing:
        click.echo(
            f"No rate stored for {', '.join(missing)}: run `newsdigest rates --fetch`.", err=True
        )


def _region_today(config: Config) -> date:
    """Today where the profile's readers are (the banks' day), not in UTC."""
    return datetime.now(ZoneInfo(config.bot.default_timezone)).date()


def _write_chart(
    db: Database, config: Config, code: str, days: int, today: date, out: Path
) -> None:
    from digest.chart import ChartError
    from digest.rates import chart_png

    base = config.rates.base
    try:
        png = chart_png(db, code, base, days, today, config.rates.chains)
    except ChartError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        out.write_bytes(png)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {out} ({len(png) // 1024} KB): {code} per {base}, last {days} days.")


class _Redact(logging.Filter):
    """Masks the bot token wherever it appears in a log line (Bot API URLs carry it)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<token>"), None
        return True


def _service_logging(token: str | None = None) -> None:
    """A running bot logs what it does at INFO, never its token; httpx's per-request lines go."""
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # A delivery pass longer than the interval makes the scheduler skip a run and say so each
    # time; the pass itself logs what it did.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    if token:
        for handler in root.handlers:
            handler.addFilter(_Redact(token))


@cli.command()
@click.option(
    "--api-url",
    metavar="URL",
    help="Bot API server root: a self-hosted server or the emulator (default: Telegram).",
)
@click.option(
    "--webhook",
    metavar="URL",
    help="Receive updates by webhook at this public URL instead of long polling.",
)
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook: address to bind.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8443,
    show_default=True,
    help="Webhook: port to bind.",
)
@pass_ctx
def run(ctx: Context, api_url: str | None, webhook: str | None, listen: str, port: int) -> None:
    """Run the bot: commands, scheduled delivery, feeds and rates (token from TELEGRAM_BOT_TOKEN).

    Long polling by default; with --webhook, Telegram posts updates to that URL and every post
    must carry the secret token (TELEGRAM_WEBHOOK_SECRET, or one made up at start).
    """
    import os
    import secrets
    from urllib.parse import urlsplit

    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import build_application

    config = ctx.config
    api_url = api_url or config.bot.api_url
    token = _token(config, api_url)
    _service_logging(token)
    application = build_application(
        config, ctx.db(), token, api_url=api_url, jobs=True, handle_signals=True
    )
    try:
        if webhook:
            secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
            application.run_webhook(
                listen=listen,
                port=port,
                url_path=urlsplit(webhook).path.lstrip("/"),
                webhook_url=webhook,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
                stop_signals=None,
            )
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=None)
    except InvalidToken:
        raise click.ClickException(
            "the Bot API refused the token (401 Unauthorized): check TELEGRAM_BOT_TOKEN"
        ) from None
    except NetworkError as exc:
        where = api_url or "api.telegram.org"
        raise click.ClickException(f"cannot reach the Bot API at {where} ({exc})") from None


def _token(config: Config, api_url: str | None) -> str:
    from bot.app import TokenError, check_token

    try:
        return check_token(config.token, strict=api_url is None)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--now", "due_now", is_flag=True, help="Deliver to everyone who is due now.")
@click.option(
    "--all",
    "everyone",
    is_flag=True,
    help="Deliver today's digest to every subscriber who has not had it yet.",
)
@click.option("--api-url", metavar="URL", help="Bot API server root (default: Telegram).")
@pass_ctx
def deliver(ctx: Context, due_now: bool, everyone: bool, api_url: str | None) -> None:
    """Run one delivery pass and report what it did (token from TELEGRAM_BOT_TOKEN)."""
    import asyncio

    from telegram.ext import ExtBot

    from bot.app import api_root, rate_limiter_for
    from bot.delivery import DeliveryPass

    if not (due_now or everyone):
        raise click.UsageError("say --now (who is due) or --all (everyone not served today)")
    config = ctx.config
    api_url = api_url or config.bot.api_url
    token = _token(config, api_url)
    _service_logging(token)
    db = ctx.db()

    async def one_pass():
        root = api_root(config, api_url)
        bot = ExtBot(token, base_url=f"{root}/bot", rate_limiter=rate_limiter_for(config))
        async with bot:
            return await DeliveryPass(db, config, bot).run(everyone=everyone)

    report = asyncio.run(one_pass())
    click.echo(
        f"{report.due} due: {report.delivered} delivered ({report.messages} messages, "
        f"{report.digests_built} distinct digests), {report.retry} to retry, "
        f"{report.closed} closed chats unsubscribed, {report.skipped} skipped as too late."
    )
    for error in report.errors:
        click.echo(f"!! {error}", err=True)


@cli.command()
@click.option("--interactive", is_flag=True, help="Type to the bot yourself instead of the script.")
@click.option(
    "--language",
    type=click.Choice(["en", "ru"]),
    default="en",
    show_default=True,
    help="The Telegram language of the demo user.",
)
@pass_ctx
def demo(ctx: Context, interactive: bool, language: str) -> None:
    """Run the bot against the local emulator on the sample data and show the chat.

    Needs no token and no network. The database is a fresh temporary one, removed afterwards.
    """
    import asyncio
    import tempfile

    from bot import demo as demo_module
    from digest.demo_data import load_sample

    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = ctx.config
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "demo.db")  # never the operator's database
        stats, rates = load_sample(db, config)
        click.echo(f"Loaded the sample: {stats.new} articles, {rates} rates.", err=True)
        if interactive:
            asyncio.run(demo_module.interactive(config, db, input, click.echo, language))
            return
        total = len(demo_module.SCRIPT)
        with click.progressbar(length=total, label="Chatting with the bot", file=sys.stderr) as bar:
            transcript = asyncio.run(
                demo_module.play(
                    config, db, language_code=language, on_step=lambda _: bar.update(1)
                )
            )
    click.echo(transcript)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script."""
    return cli.main(args=argv, prog_name="newsdigest")

"""Fetching feeds over HTTP, concurrently and politely: conditional GET, size caps, backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import httpx

from digest.config import FeedConfig, FetchConfig
from digest.models import Entry
from digest.parse import FeedParseError, extract_article, parse_feed
from storage.records import FeedState

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_REDIRECT_CODES = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A URL could not be fetched; the message is one sentence for the operator."""


@dataclass
class FetchedBytes:
    """The answer to a size-capped GET: final status, headers, body and the URL after redirects."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str


@dataclass
class FeedResult:
    """What one feed gave in one run, and the state to store for it.

    `status` is "ok", "not-modified", "error" or "skipped" (still backing off after failures);
    `error` is one sentence when status is "error"; `elapsed` is seconds spent on the feed.
    """

    feed: FeedConfig
    state: FeedState
    entries: list[Entry] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    elapsed: float = 0.0


async def fetch_bytes(
    client: httpx.AsyncClient,
    url: str,
    settings: FetchConfig,
    headers: Mapping[str, str] | None = None,
) -> FetchedBytes:
    """GET `url`, following up to MAX_REDIRECTS redirects, all within `settings.timeout` seconds.

    The body is read as a stream and refused past `settings.max_bytes`. Any HTTP status is returned
    as is; timeouts, oversized bodies, redirect loops and network failures raise FetchError.
    """
    request_headers = {"User-Agent": settings.user_agent, **(headers or {})}
    try:
        async with asyncio.timeout(settings.timeout):
            return await _get(client, url, settings, request_headers)
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(f"no answer from {url} within {settings.timeout:g} seconds") from None
    except httpx.ConnectError as exc:
        raise FetchError(f"cannot connect to {url} ({_why(exc)})") from None
    except httpx.UnsupportedProtocol:
        raise FetchError(f"{url} is not an http(s) address that can be fetched") from None
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url} is not a valid address ({_why(exc)})") from None
    except httpx.RequestError as exc:
        raise FetchError(f"fetching {url} failed ({_why(exc)})") from None


async def fetch_feeds(
    feeds: Sequence[FeedConfig],
    states: Mapping[str, FeedState],
    settings: FetchConfig,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    on_result: Callable[[FeedResult], None] | None = None,
    known_urls: Container[str] = (),
) -> list[FeedResult]:
    """Fetch and parse `feeds` concurrently; one result per feed, in the order given.

    `states` maps a feed URL to what was stored about it (ETag, failures, next try); feeds still
    in backoff at `now` are skipped. No feed's failure stops the others: each becomes an "error"
    result with its message and a later next_try. With `settings.extract_teasers`, teaser entries
    get the article body from their page, except those whose URL is in `known_urls`.
    `on_result` is called with each result as soon as its feed is done.
    """
    now = now or datetime.now(UTC)
    limit = asyncio.Semaphore(max(1, settings.concurrency))
    own_client = client is None
    if client is None:
        client = httpx.AsyncClient(timeout=settings.timeout)
    try:
        jobs = [
            _fetch_reporting(
                client, feed, states.get(feed.url), settings, now, limit, on_result, known_urls
            )
            for feed in feeds
        ]
        return list(await asyncio.gather(*jobs))
    finally:
        if own_client:
            await client.aclose()


def backoff_delay(failures: int, settings: FetchConfig) -> timedelta:
    """The wait after `failures` failures in a row: doubling from backoff_minutes, capped."""
    minutes = settings.backoff_minutes * 2 ** min(max(failures - 1, 0), 30)
    return min(timedelta(minutes=minutes), timedelta(hours=settings.backoff_max_hours))


async def _get(
    client: httpx.AsyncClient, url: str, settings: FetchConfig, headers: dict[str, str]
) -> FetchedBytes:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        async with client.stream(
            "GET", current, headers=headers, follow_redirects=False, timeout=settings.timeout
        ) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_CODES and location:
                current = urljoin(str(response.url), location)
                continue
            content = await _read_capped(response, settings.max_bytes)
            return FetchedBytes(response.status_code, response.headers, content, str(response.url))
    raise FetchError(f"{url} redirected more than {MAX_REDIRECTS} times")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = FetchError(f"{response.url} is larger than {max_bytes} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _fetch_reporting(
    client: httpx.AsyncClient,
    feed: FeedConfig,
    stored: FeedState | None,
    settings: FetchConfig,
    now: datetime,
    limit: asyncio.Semaphore,
    on_result: Callable[[FeedResult], None] | None,
    known_urls: Container[str],
) -> FeedResult:
    state = replace(stored) if stored else FeedState(url=feed.url, name=feed.name)
    try:
        result = await _fetch_feed(client, feed, state, settings, now, limit, known_urls)
    except Exception as exc:  # a bug in one feed's handling must not sink the whole run
        log.exception("feed %s: unexpected failure", feed.name)
        result = _failed(
            feed, state, f"unexpected error while fetching {feed.url}: {exc!r}", now, settings, 0.0
        )
    if result.status == "error":
        log.warning("feed %s: %s", feed.name, result.error)
    else:
        log.info(
            "feed %s: %s, %d entries in %.2fs",
            feed.name,
            result.status,
            len(result.entries),
            result.elapsed,
        )
    if on_result is not None:
        try:
            on_result(result)
        except Exception:
            log.exception("on_result callback failed for feed %s", feed.name)
    return result


async def _fetch_feed(
    client: httpx.AsyncClient,
    feed: FeedConfig,
    state: FeedState,
    settings: FetchConfig,
    now: datetime,
    limit: asyncio.Semaphore,
    known_urls: Container[str],
) -> FeedResult:
    if state.next_try is not None and state.next_try > now:
        return FeedResult(feed, state, status="skipped")
    conditional = {}
    if state.etag:
        conditional["If-None-Match"] = state.etag
    if state.last_modified:
        conditional["If-Modified-Since"] = state.last_modified
    async with limit:
        started = time.monotonic()
        try:
            response = await fetch_bytes(client, feed.url, settings, conditional)
            if response.status_code == 304:
                return _not_modified(feed, state, response, now, time.monotonic() - started)
            if not 200 <= response.status_code < 300:
                raise FetchError(
                    f"{feed.url} answered HTTP {response.status_code} "
                    f"{httpx.codes.get_reason_phrase(response.status_code)}".rstrip()
                )
            entries = await asyncio.to_thread(
                parse_feed,
                response.content,
                feed.name,
                response.url,
                response.headers.get("content-type"),
                teaser_chars=settings.teaser_chars,
            )
        except (FetchError, FeedParseError) as exc:
            return _failed(feed, state, str(exc), now, settings, time.monotonic() - started)
    if settings.extract_teasers:
        await _fill_teasers(client, entries, settings, limit, feed.name, known_urls)
    state.etag = response.headers.get("etag")
    state.last_modified = response.headers.get("last-modified")
    _mark_reachable(state, "ok", now)
    return FeedResult(feed, state, entries, "ok", None, time.monotonic() - started)


def _not_modified(
    feed: FeedConfig, state: FeedState, response: FetchedBytes, now: datetime, elapsed: float
) -> FeedResult:
    state.etag = response.headers.get("etag") or state.etag
    state.last_modified = response.headers.get("last-modified") or state.last_modified
    _mark_reachable(state, "not-modified", now)
    return FeedResult(feed, state, [], "not-modified", None, elapsed)


def _mark_reachable(state: FeedState, status: str, now: datetime) -> None:
    state.last_status = status
    state.last_error = None
    state.failures = 0
    state.next_try = None
    state.last_fetched = now
    state.last_ok = now


def _failed(
    feed: FeedConfig,
    state: FeedState,
    error: str,
    now: datetime,
    settings: FetchConfig,
    elapsed: float,
) -> FeedResult:
    state.failures += 1
    state.last_status = "error"
    state.last_error = error
    state.last_fetched = now
    state.next_try = now + backoff_delay(state.failures, settings)
    return FeedResult(feed, state, [], "error", error, elapsed)


async def _fill_teasers(
    client: httpx.AsyncClient,
    entries: list[Entry],
    settings: FetchConfig,
    limit: asyncio.Semaphore,
    source: str,
    known_urls: Container[str],
) -> None:
    teasers = [e for e in entries if e.is_teaser and e.url and e.url not in known_urls]
    await asyncio.gather(*(_fill_teaser(client, e, settings, limit, source) for e in teasers))


async def _fill_teaser(
    client: httpx.AsyncClient,
    entry: Entry,
    settings: FetchConfig,
    limit: asyncio.Semaphore,
    source: str,
) -> None:
    """Replace a teaser's text by its page's article body when that is longer; keep it otherwise."""
    assert entry.url is not None
    try:
        async with limit:
            page = await fetch_bytes(client, entry.url, settings)
        if page.status_code != 200:
            log.info(
                "feed %s: teaser page %s answered HTTP %d, kept the teaser",
                source,
                entry.url,
                page.status_code,
            )
            return
        article = await asyncio.to_thread(extract_article, page.content, page.url, source)
    except FetchError as exc:
        log.info("feed %s: kept the teaser, %s", source, exc)
        return
    except Exception:
        log.warning(
            "feed %s: reading teaser page %s failed, kept the teaser",
            source,
            entry.url,
            exc_info=True,
        )
        return
    if article is None or len(article.text) <= len(entry.text):
        log.info("feed %s: no longer article text on %s, kept the teaser", source, entry.url)
        return
    entry.text = article.text
    entry.is_teaser = False
    entry.published = entry.published or article.published
    entry.title = entry.title or article.title


def _why(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__

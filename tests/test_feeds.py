import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digest.config import FeedConfig, FetchConfig
from digest.feeds import FetchError, backoff_delay, fetch_bytes, fetch_feeds
from storage.records import FeedState

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
FAST = FetchConfig(timeout=0.5, max_bytes=20_000, concurrency=4, extract_teasers=False)


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def by_name(results):
    return {r.feed.name: r for r in results}


async def test_one_bad_feed_never_stops_the_others(http_server):
    feeds = [
        FeedConfig("broken", http_server.route("/broken.xml", "oops", status=500)),
        FeedConfig("slow", http_server.route("/slow.xml", fixture("rss_content.xml"), delay=2)),
        FeedConfig("huge", http_server.route("/huge.xml", b"<rss>" + b" " * 50_000 + b"</rss>")),
        FeedConfig(
            "html",
            http_server.route(
                "/html.xml", fixture("error_page.html"), headers={"Content-Type": "text/html"}
            ),
        ),
        FeedConfig(
            "cyrillic",
            http_server.route(
                "/cp1251.xml",
                fixture("cp1251.xml"),
                headers={"Content-Type": "application/rss+xml; charset=windows-1251"},
            ),
        ),
        FeedConfig("cut", http_server.route("/cut.xml", fixture("truncated.xml"), headers=RSS)),
        FeedConfig("good", http_server.route("/good.xml", fixture("rss_content.xml"), headers=RSS)),
    ]
    finished = []

    results = await fetch_feeds(feeds, {}, FAST, now=NOW, on_result=finished.append)

    assert [r.feed.name for r in results] == [f.name for f in feeds]
    assert sorted(r.feed.name for r in finished) == sorted(f.name for f in feeds)
    got = by_name(results)
    assert got["good"].status == "ok"
    assert [e.title for e in got["good"].entries][
        0
    ] == "Tashkent opens its third metro ring segment"
    assert got["cyrillic"].entries[0].title.startswith("В Бишкеке открылся")
    assert len(got["cut"].entries) == 2
    expected_errors = {
        "broken": f"{feeds[0].url} answered HTTP 500 Internal Server Error",
        "slow": f"no answer from {feeds[1].url} within 0.5 seconds",
        "huge": f"{feeds[2].url} is larger than 20000 bytes",
        "html": "html returned an HTML page, not a feed",
    }
    for name, message in expected_errors.items():
        result = got[name]
        assert (result.status, result.error, result.entries) == ("error", message, [])
        assert result.state.last_error == message
        assert result.state.failures == 1
        assert result.state.next_try == NOW + timedelta(minutes=15)
        assert result.state.last_status == "error"
    assert got["slow"].elapsed < 1.5


async def test_success_stores_validators_and_resets_failures(http_server):
    url = http_server.route(
        "/feed.xml",
        fixture("atom.xml"),
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 03 Nov 2026 07:00:00 GMT"},
    )
    feed = FeedConfig("Caspian Observer", url)
    earlier = FeedState(url=url, failures=3, last_error="old trouble", next_try=NOW)

    (result,) = await fetch_feeds([feed], {url: earlier}, FAST, now=NOW)

    assert result.status == "ok"
    assert len(result.entries) == 2
    state = result.state
    assert (state.etag, state.last_modified) == ('"v1"', "Tue, 03 Nov 2026 07:00:00 GMT")
    assert (state.failures, state.last_error, state.next_try) == (0, None, None)
    assert (state.last_status, state.last_ok, state.last_fetched) == ("ok", NOW, NOW)
    assert earlier.failures == 3  # the caller's state is not modified in place


async def test_second_run_is_conditional_and_304_means_not_modified(http_server):
    validators = {"ETag": '"v1"', "Last-Modified": "Tue, 03 Nov 2026 07:00:00 GMT"}
    url = http_server.route("/feed.xml", fixture("rss_content.xml"), headers=validators)
    feed = FeedConfig("Steppe Wire", url)
    (first,) = await fetch_feeds([feed], {}, FAST, now=NOW)
    assert "If-None-Match" not in http_server.requests_to("/feed.xml")[0].headers

    def answer(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, validators, fixture("rss_content.xml")

    http_server.handle("/feed.xml", answer)
    later = NOW + timedelta(hours=1)
    (second,) = await fetch_feeds([feed], {url: first.state}, FAST, now=later)

    sent = http_server.requests_to("/feed.xml")[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 03 Nov 2026 07:00:00 GMT"
    assert (second.status, second.entries, second.error) == ("not-modified", [], None)
    assert second.state.etag == '"v1"'
    assert second.state.last_modified == "Tue, 03 Nov 2026 07:00:00 GMT"
    assert (second.state.last_status, second.state.last_fetched) == ("not-modified", later)


async def test_feed_in_backoff_is_skipped_without_a_request(http_server):
    url = http_server.route("/feed.xml", fixture("rss_content.xml"))
    state = FeedState(url=url, failures=2, last_error="boom", next_try=NOW + timedelta(minutes=5))

    (result,) = await fetch_feeds([FeedConfig("Steppe Wire", url)], {url: state}, FAST, now=NOW)

    assert (result.status, result.entries, result.error) == ("skipped", [], None)
    assert result.state == state
    assert http_server.requests_to("/feed.xml") == []


async def test_repeated_failures_back_off_longer_up_to_the_cap(http_server):
    url = http_server.route("/feed.xml", status=503)
    state = FeedState(url=url, failures=2, next_try=NOW - timedelta(minutes=1))

    (result,) = await fetch_feeds([FeedConfig("down", url)], {url: state}, FAST, now=NOW)

    assert result.state.failures == 3
    assert result.state.next_try == NOW + timedelta(hours=1)
    assert backoff_delay(40, FAST) == timedelta(hours=24)


async def test_redirects_are_followed_and_links_resolve_against_the_final_address(http_server):
    http_server.route("/feeds/relative.xml", fixture("relative_links.xml"), headers=RSS)
    http_server.route("/moved/1", status=302, headers={"Location": "/moved/2"})
    start = http_server.route("/old.xml", status=301, headers={"Location": "/moved/1"})
    http_server.route(
        "/moved/2", status=307, headers={"Location": http_server.url("/feeds/relative.xml")}
    )

    (result,) = await fetch_feeds([FeedConfig("Astana", start)], {}, FAST, now=NOW)

    assert result.status == "ok"
    assert result.entries[1].url == http_server.url("/feeds/news/left-bank-park.html")


async def test_redirect_loop_is_an_error(http_server):
    url = http_server.route("/loop", status=302, headers={"Location": "/loop"})

    (result,) = await fetch_feeds([FeedConfig("loop", url)], {}, FAST, now=NOW)

    assert result.error == f"{url} redirected more than 5 times"
    assert len(http_server.requests_to("/loop")) == 6


async def test_teaser_entry_gets_the_article_body_from_its_page(http_server):
    url = http_server.route("/rss/teaser.xml", fixture("teaser.xml"), headers=RSS)
    http_server.route("/news/2026/11/caspian-aktau.html", fixture("article_page.html"))
    settings = FetchConfig(timeout=2, concurrency=1)  # one slot: the page must not wait on its feed

    (result,) = await fetch_feeds([FeedConfig("Steppe Wire", url)], {}, settings, now=NOW)

    (entry,) = result.entries
    assert entry.url == http_server.url("/news/2026/11/caspian-aktau.html")
    assert not entry.is_teaser
    assert entry.text.startswith("The Caspian Sea keeps retreating from Kazakhstan's western")
    assert entry.text.count("\n\n") == 4


async def test_failed_teaser_page_keeps_the_teaser_and_the_feed(http_server):
    url = http_server.route("/rss/teaser.xml", fixture("teaser.xml"), headers=RSS)
    http_server.route("/news/2026/11/caspian-aktau.html", "gone", status=404)

    (result,) = await fetch_feeds([FeedConfig("Steppe Wire", url)], {}, FetchConfig(timeout=2))

    assert result.status == "ok"
    assert result.entries[0].is_teaser
    assert result.entries[0].text.startswith("Port operators in Aktau say dredging")


async def test_known_teaser_pages_are_not_fetched_again(http_server):
    url = http_server.route("/rss/teaser.xml", fixture("teaser.xml"), headers=RSS)
    page = http_server.route("/news/2026/11/caspian-aktau.html", fixture("article_page.html"))

    (result,) = await fetch_feeds(
        [FeedConfig("Steppe Wire", url)], {}, FetchConfig(timeout=2), known_urls={page}
    )

    assert result.entries[0].is_teaser
    assert http_server.requests_to("/news/2026/11/caspian-aktau.html") == []


async def test_requests_carry_the_configured_user_agent(http_server):
    url = http_server.route("/feed.xml", fixture("atom.xml"))
    settings = FetchConfig(timeout=2, user_agent="newsdigest-test/1.0")

    await fetch_feeds([FeedConfig("Caspian Observer", url)], {}, settings)

    assert http_server.requests_to("/feed.xml")[0].headers["User-Agent"] == "newsdigest-test/1.0"


async def test_on_result_errors_do_not_break_the_run(http_server):
    url = http_server.route("/feed.xml", fixture("atom.xml"))

    def explode(result):
        raise RuntimeError("progress bar broke")

    (result,) = await fetch_feeds([FeedConfig("c", url)], {}, FAST, on_result=explode)

    assert result.status == "ok"


async def test_fetch_bytes_caps_a_body_sent_without_content_length(http_server):
    url = http_server.route("/stream", b"x" * 50_000, send_length=False)

    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchError, match="is larger than 20000 bytes"):
            await fetch_bytes(client, url, FAST)


async def test_fetch_bytes_returns_status_headers_body_and_final_url(http_server):
    final = http_server.route(
        "/rates.json", b'{"KZT": 1}', headers={"Content-Type": "application/json"}
    )
    start = http_server.route("/r", status=308, headers={"Location": "/rates.json"})

    async with httpx.AsyncClient() as client:
        got = await fetch_bytes(client, start, FAST, headers={"Accept": "application/json"})

    assert (got.status_code, got.content, got.url) == (200, b'{"KZT": 1}', final)
    assert got.headers["content-type"] == "application/json"
    assert http_server.requests_to("/rates.json")[0].headers["Accept"] == "application/json"


async def test_connection_refused_is_a_clear_fetch_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"

    (result,) = await fetch_feeds([FeedConfig("nobody", url)], {}, FAST, now=NOW)

    assert result.status == "error"
    assert result.error.startswith(f"cannot connect to {url}")

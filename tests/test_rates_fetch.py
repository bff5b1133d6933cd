"""Rates over real HTTP from a local server: each currency's chain, fallbacks, storage, display."""

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from digest.config import load_config
from digest.rates import rate_lines
from digest.rates_fetch import fetch_rates, store_rates
from digest.render import render_rates_text
from storage.db import open_db
from storage.rates import history

RATES = Path(__file__).parent / "fixtures" / "rates"
DAY = date(2026, 11, 25)  # a Wednesday; the fixtures are that day's files

PATHS = {
    "nbk": "/nbk/rss/get_rates.cfm",
    "nbkr": "/nbkr/XML/daily.xml",
    "cbu": "/cbu/en/arkhiv-kursov-valyut/json/all/2026-11-25/",
    "nbt": "/nbt/en/kurs/export_xml.php",
    "cbr": "/cbr/scripts/XML_daily.asp",
    "frankfurter": "/frankfurter/v2/rates",
}
FILES = {
    "nbk": ("nbk.xml", "application/xml"),
    "nbkr": ("nbkr_daily.xml", "text/xml"),
    "cbu": ("cbu.json", "application/json"),
    "nbt": ("nbt.xml", "text/html; charset=utf-8"),  # PHP's default header on a real XML file
    "cbr": ("cbr.xml", "application/xml; charset=windows-1251"),
    "frankfurter": ("frankfurter.json", "application/json"),
}


@pytest.fixture
def sources(http_server, tmp_path):
    """Every provider served its fixture by the local server; returns (config, server)."""
    for name, (filename, content_type) in FILES.items():
        http_server.route(
            PATHS[name], (RATES / filename).read_bytes(), headers={"Content-Type": content_type}
        )
    lines = [
        "[fetch]",
        "timeout = 1.0",
        "[rates]",
        'currencies = ["KZT", "KGS", "UZS", "TJS", "TMT"]',
        "[rates.sources]",
    ]
    lines += [f'{name} = "{http_server.url("/" + name)}"' for name in FILES]
    path = tmp_path / "rates.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={}), http_server


def used(report):
    return {o.currency: o.observation.source if o.observation else None for o in report.outcomes}


async def test_every_currency_comes_from_its_home_bank(sources):
    config, server = sources
    report = await fetch_rates(config, day=DAY)
    assert used(report) == {
        "KZT": "nbk",
        "KGS": "nbkr",
        "UZS": "cbu",
        "TJS": "nbt",
        "TMT": "cbtm-fixed",
    }
    kzt = report.outcomes[0].observation
    assert kzt.value * Decimal("508.93") == pytest.approx(Decimal(1), abs=Decimal("1e-10"))
    # NBKR's file already carries tomorrow's date, as it does every afternoon: kept as stated.
    assert report.outcomes[1].observation.as_of == date(2026, 11, 26)
    assert server.requests_to("/nbk/rss/get_rates.cfm")[0].path.endswith("fdate=25.11.2026")
    assert not server.requests_to(PATHS["cbr"])  # no fallback was needed


async def test_a_source_that_is_down_falls_back_to_the_cross_rate(sources):
    config, server = sources
    server.route(PATHS["nbk"], b"Service Unavailable", status=503)
    report = await fetch_rates(config, day=DAY)
    kzt = report.outcomes[0]
    assert kzt.observation.source == "cbr"
    assert kzt.failures == [("nbk", "nbk answered HTTP 503")]
    # 100 KZT = 15,8156 RUB and 1 USD = 80,5012 RUB in the CBR file.
    expected = Decimal("0.158156") / Decimal("80.5012")
    assert abs(kzt.observation.value - expected) < Decimal("1e-14")


async def test_anti_bot_page_and_no_data_answers_move_on_down_the_chain(sources):
    config, server = sources
    server.route(
        PATHS["nbk"],
        (RATES / "nbk_nodata.xml").read_bytes(),
        headers={"Content-Type": "application/xml"},
    )
    server.route(
        PATHS["cbr"],
        (RATES / "cbr_antibot.html").read_bytes(),
        headers={"Content-Type": "text/html"},
    )
    report = await fetch_rates(config, day=DAY)
    kzt = report.outcomes[0]
    assert kzt.observation.source == "frankfurter"
    assert [name for name, _ in kzt.failures] == ["nbk", "cbr"]
    assert "HTML page" in kzt.failures[1][1]


async def test_a_file_for_another_day_is_not_taken_as_today(sources):
    config, server = sources
    server.route(
        PATHS["cbu"],
        (RATES / "cbu_otherday.json").read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    report = await fetch_rates(config, day=DAY)
    uzs = report.outcomes[2]
    assert uzs.failures == [("cbu", "cbu answered with the rate of 2026-11-24, not of 2026-11-25")]
    assert uzs.observation.source == "cbr"


async def test_a_source_that_hangs_times_out_and_the_chain_goes_on(sources):
    config, server = sources
    server.route(PATHS["nbt"], (RATES / "nbt.xml").read_bytes(), delay=3.0)
    report = await fetch_rates(config, day=DAY)
    tjs = report.outcomes[3]
    assert tjs.observation.source == "cbr"
    assert "within 1 second" in tjs.failures[0][1] or "within 1.0 second" in tjs.failures[0][1]


async def test_each_failing_source_is_asked_and_logged_once(sources, caplog):
    config, server = sources
    for name in ("nbk", "nbkr", "cbu", "nbt"):
        server.route(PATHS[name], b"", status=500)
    server.route(PATHS["cbr"], b"", status=502)
    with caplog.at_level(logging.WARNING, logger="digest.rates_fetch"):
        report = await fetch_rates(config, day=DAY)
    assert set(used(report).values()) == {"frankfurter", "cbtm-fixed"}
    assert len(server.requests_to(PATHS["cbr"])) == 1
    assert len(server.requests_to(PATHS["frankfurter"])) == 1
    cbr_logs = [r for r in caplog.records if "cbr" in r.getMessage()]
    assert len(cbr_logs) == 1


async def test_when_every_source_fails_nothing_is_invented(sources):
    config, server = sources
    for name in ("nbk", "cbr", "frankfurter"):
        server.route(PATHS[name], b"", status=500)
    report = await fetch_rates(config, day=DAY)
    kzt = report.outcomes[0]
    assert kzt.observation is None
    assert [name for name, _ in kzt.failures] == ["nbk", "cbr", "frankfurter"]


async def test_observations_are_stored_and_the_change_stays_within_one_source(sources, tmp_path):
    config, server = sources
    db = open_db(tmp_path / "rates.db")
    yesterday = date(2026, 11, 24)
    server.route(
        PATHS["nbk"],
        (RATES / "nbk.xml")
        .read_bytes()
        .replace(b"25.11.2026", b"24.11.2026")
        .replace(b"508.93", b"510.00"),
        headers={"Content-Type": "application/xml"},
    )
    store_rates(db, await fetch_rates(config, day=yesterday), datetime(2026, 11, 24, 9, tzinfo=UTC))
    server.route(
        PATHS["nbk"], (RATES / "nbk.xml").read_bytes(), headers={"Content-Type": "application/xml"}
    )
    store_rates(db, await fetch_rates(config, day=DAY), datetime(2026, 11, 25, 9, tzinfo=UTC))
    [kzt] = rate_lines(db, ["KZT"], "USD", DAY, config.rates.chains)
    assert (kzt.source, kzt.previous is not None) == ("nbk", True)
    assert f"{kzt.change_pct:.2f}" == "0.21"  # 510.00 -> 508.93 KZT per USD: the tenge gained
    assert "+0.21%" in render_rates_text([kzt])

    # The next day NBK is down: the cross rate is shown, and not compared with NBK's value.
    server.route(PATHS["nbk"], b"", status=500)
    server.route(
        PATHS["cbr"], (RATES / "cbr.xml").read_bytes().replace(b"25.11.2026", b"26.11.2026")
    )
    store_rates(
        db, await fetch_rates(config, day=date(2026, 11, 26)), datetime(2026, 11, 26, 9, tzinfo=UTC)
    )
    [kzt] = rate_lines(db, ["KZT"], "USD", date(2026, 11, 26), config.rates.chains)
    # CBR's previous file (25 Nov, fetched as a fallback for UZS on the 24th and kept) has the
    # same KZT cross rate: 0.00%, not the -3.5% a comparison with NBK's 508.93 would make up.
    assert kzt.source == "cbr" and kzt.previous == kzt.value
    assert f"{kzt.change_pct:.2f}" == "0.00"
    kept = {(o.source, o.as_of.day) for o in history(db, "KZT")}
    assert {("nbk", 24), ("nbk", 25), ("cbr", 25), ("cbr", 26)} <= kept  # nothing overwritten


async def test_stale_rate_is_shown_with_its_date(sources, tmp_path):
    config, _ = sources
    db = open_db(tmp_path / "rates.db")
    store_rates(db, await fetch_rates(config, day=DAY))
    [kzt] = rate_lines(db, ["KZT"], "USD", date(2026, 11, 30), config.rates.chains)  # Monday after
    assert kzt.stale
    assert "(as of 25 Nov 2026)" in render_rates_text([kzt])
    [tmt] = rate_lines(db, ["TMT"], "USD", date(2026, 12, 30), config.rates.chains)
    assert not tmt.stale


async def test_the_first_fetch_already_shows_the_change_the_bank_states(sources, tmp_path):
    config, _ = sources
    db = open_db(tmp_path / "rates.db")
    store_rates(db, await fetch_rates(config, day=DAY))
    kzt, kgs, uzs = rate_lines(db, ["KZT", "KGS", "UZS"], "USD", DAY, config.rates.chains)
    # NBK: 508.93 tenge, up 0.61 from 508.32, so a tenge is worth 0.12% less than yesterday.
    assert kzt.previous == (Decimal(1) / Decimal("508.32")).quantize(Decimal("1e-14"))
    assert f"{kzt.change_pct:.2f}" == "-0.12"
    # CBU: 12,050.37 sum, 12.41 less than before: the sum gained 0.10%.
    assert f"{uzs.change_pct:.2f}" == "0.10"
    # NBKR states no previous value: nothing to compare yet, and nothing is made up.
    assert kgs.change_pct is None
    assert "-0.12%" in render_rates_text([kzt])

"""The currency chart: which series is drawn, and that it comes out as a readable PNG."""

from __future__ import annotations

import struct
from datetime import date, timedelta
from decimal import Decimal

import pytest

from digest.chart import MIN_POINTS, ChartError, chart_series, render_chart
from storage.records import RateObservation

NOW = date(2026, 11, 25)


def kzt_history(days: int, source: str = "nbk", start: Decimal = Decimal("0.00196")) -> list:
    """`days` daily KZT observations ending NOW, the tenge slowly weakening."""
    return [
        RateObservation("KZT", "USD", start + Decimal("0.000001") * i, source, NOW - timedelta(i))
        for i in range(days)
    ]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always follows the 8-byte signature."""
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_thirty_days_of_kzt_render_as_a_telegram_sized_png():
    png = render_chart(
        kzt_history(30), currency="KZT", source_title="National Bank of Kazakhstan", now=NOW
    )

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png_size(png) == (1000, 600)


def test_the_same_input_renders_the_same_bytes():
    first = render_chart(kzt_history(10), currency="KZT", days=30, now=NOW)
    second = render_chart(kzt_history(10), currency="KZT", days=30, now=NOW)

    assert first == second


def test_chart_series_gives_local_units_per_usd_sorted_by_date():
    observations = list(reversed(kzt_history(5)))[::2] + list(reversed(kzt_history(5)))[1::2]

    source, dates, values = chart_series(observations)

    assert source == "nbk"
    assert dates == [NOW - timedelta(i) for i in range(4, -1, -1)]
    assert values[-1] == Decimal(1) / Decimal("0.00196")
    assert round(values[-1], 1) == Decimal("510.2")
    assert values == sorted(values)  # a weakening tenge: more KZT per USD each day


def test_chart_series_keeps_the_home_source_and_ignores_a_cross_rate():
    home = kzt_history(10)
    cross = kzt_history(4, source="cbr", start=Decimal("0.00190"))

    source, dates, values = chart_series(cross + home)

    assert source == "nbk"
    assert len(dates) == 10
    assert all(value < 515 for value in values)  # cbr's 1/0.0019 = 526 never leaks in


def test_chart_series_draws_the_source_asked_for():
    cross = kzt_history(4, source="cbr", start=Decimal("0.00190"))

    source, dates, values = chart_series(kzt_history(10) + cross, source="cbr")

    assert (source, len(dates)) == ("cbr", 4)
    assert values[-1] == Decimal(1) / Decimal("0.00190")


def test_chart_series_breaks_a_tie_by_the_latest_date():
    def observed(source: str, *days_ago: int) -> list[RateObservation]:
        return [
            RateObservation("KZT", "USD", Decimal("0.0019"), source, NOW - timedelta(n))
            for n in days_ago
        ]

    # nbk's newest is today although its last row in the input is older than frankfurter's.
    nbk, frankfurter = observed("nbk", 0, 5, 6), observed("frankfurter", 3, 2, 1)

    assert chart_series(frankfurter + nbk)[0] == "nbk"
    assert chart_series(nbk + frankfurter)[0] == "nbk"


def test_the_last_observation_of_a_day_wins():
    observations = kzt_history(3) + [
        RateObservation("KZT", "USD", Decimal("0.0025"), "nbk", NOW),
    ]

    _, dates, values = chart_series(observations)

    assert len(dates) == 3
    assert values[-1] == Decimal(400)


@pytest.mark.parametrize("days", [0, 1, MIN_POINTS - 1])
def test_too_little_history_is_a_clear_error_not_an_empty_plot(days):
    with pytest.raises(ChartError) as error:
        render_chart(kzt_history(days), currency="KZT", now=NOW)

    message = str(error.value)
    assert "KZT" in message
    assert f"at least {MIN_POINTS}" in message
    assert f"{'No' if days == 0 else f'Only {days}'} " in message


def test_another_currency_in_the_input_does_not_count_as_history():
    uzs = [
        RateObservation("UZS", "USD", Decimal("0.000083"), "cbu", NOW - timedelta(i))
        for i in range(10)
    ]

    with pytest.raises(ChartError, match="KZT"):
        render_chart(uzs + kzt_history(2), currency="KZT", now=NOW)


@pytest.fixture
def drawn_dates(monkeypatch) -> list[date]:
    """The dates render_chart ends up drawing, filled in when it draws."""
    import digest.chart

    drawn: list[date] = []
    real_series = digest.chart._series

    def spy(*args):
        series = real_series(*args)
        drawn[:] = series[1]
        return series

    monkeypatch.setattr(digest.chart, "_series", spy)
    return drawn


def test_the_days_window_drops_older_points(drawn_dates):
    render_chart(kzt_history(40), currency="KZT", days=30, now=NOW)

    assert len(drawn_dates) == 30
    assert min(drawn_dates) == NOW - timedelta(29)


def test_the_days_window_keeps_tomorrows_published_fixing_but_nothing_later(drawn_dates):
    ahead = [
        RateObservation("KZT", "USD", Decimal("0.00195"), "nbk", NOW + timedelta(n)) for n in (1, 5)
    ]

    render_chart(kzt_history(5) + ahead, currency="KZT", days=30, now=NOW)

    assert max(drawn_dates) == NOW + timedelta(1)


def test_a_one_day_window_is_too_little_history():
    with pytest.raises(ChartError, match=r"Only 1 day of KZT .* at least 3"):
        render_chart(kzt_history(40), currency="KZT", days=1, now=NOW)


def test_uzs_tiny_values_plot_as_thousands_per_usd():
    uzs = [
        RateObservation(
            "UZS", "USD", Decimal(1) / Decimal(12050 + 7 * i), "cbu", NOW - timedelta(i)
        )
        for i in range(7)
    ]

    png = render_chart(uzs, currency="UZS", source_title="Central Bank of Uzbekistan", now=NOW)

    assert png_size(png) == (1000, 600)
    assert round(chart_series(uzs)[2][0]) == 12092


def test_a_zero_value_is_skipped_rather_than_divided_by():
    broken = RateObservation("KZT", "USD", Decimal(0), "nbk", NOW + timedelta(1))

    _, dates, _ = chart_series(kzt_history(3) + [broken])

    assert dates[-1] == NOW

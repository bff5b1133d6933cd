"""Currency history as a PNG line chart: what the bot sends for `/rates KZT`."""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

from storage.records import RateObservation

MIN_POINTS = 3
# Markers help read a short series; on a long one they only clutter the line.
MARKER_LIMIT = 20


class ChartError(ValueError):
    """Raised when there is too little history to draw a meaningful chart."""


def _too_few(currency: str, count: int, where: str) -> ChartError:
    """Build the one-sentence message shown to the user instead of an empty plot."""
    stored = f"Only {count} {'day' if count == 1 else 'days'} of" if count else "No"
    return ChartError(
        f"{stored} {currency} rates {where}; a chart needs at least {MIN_POINTS} days. "
        "Run `newsdigest rates --fetch` on a few days first."
    )


def chart_series(
    observations: Sequence[RateObservation], source: str | None = None, currency: str | None = None
) -> tuple[str, list[date], list[Decimal]]:
    """One source's daily series as local units per 1 base, sorted by date (never mixes sources)."""
    currency = currency or (observations[0].currency if observations else "such")
    return _series(observations, source, currency, "are stored")


def _series(
    observations: Sequence[RateObservation], source: str | None, currency: str, where: str
) -> tuple[str, list[date], list[Decimal]]:
    """chart_series with the currency and the wording of the too-few message given by the caller."""
    if source is None and observations:
        counts = Counter(o.source for o in observations)
        newest: dict[str, date] = {}
        for o in observations:
            newest[o.source] = max(newest.get(o.source, o.as_of), o.as_of)
        source = max(counts, key=lambda s: (counts[s], newest[s]))
    # Later observations of the same day overwrite earlier ones: the last in the input wins.
    by_day = {o.as_of: o.value for o in observations if o.source == source and o.value > 0}
    if len(by_day) < MIN_POINTS:
        origin = f" (from {source})" if source else ""
        raise _too_few(currency, len(by_day), f"{where}{origin}")
    dates = sorted(by_day)
    return source or "", dates, [Decimal(1) / by_day[d] for d in dates]


class _PlainFormatter(Formatter):
    """Tick labels as plain numbers with thousands separators, never an offset or 1e4."""

    decimals = 2

    def set_locs(self, locs: Sequence[float]) -> None:
        steps = [abs(b - a) for a, b in zip(locs, locs[1:], strict=False) if b != a]
        step = min(steps) if steps else 1.0
        self.decimals = max(0, min(6, -math.floor(math.log10(step))))

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:,.{self.decimals}f}"


def render_chart(
    observations: Sequence[RateObservation],
    *,
    currency: str,
    base: str = "USD",
    source_title: str | None = None,
    days: int | None = None,
    now: date | None = None,
) -> bytes:
    """Draw `currency` per 1 `base` over the last `days` days ending `now` as PNG bytes."""
    now = now or datetime.now(UTC).date()
    chosen = [o for o in observations if o.currency == currency and o.base == base]
    if days is not None:
        start = now - timedelta(days=days - 1)
        # A bank may publish tomorrow's fixing today (NBKR): keep it, it is the latest news.
        chosen = [o for o in chosen if start <= o.as_of <= now + timedelta(days=1)]
    window = "day" if days == 1 else f"{days} days"
    where = f"are stored for the last {window}" if days else "are stored"
    source, dates, values = _series(chosen, None, currency, where)
    ys = [float(v) for v in values]

    fig = Figure(figsize=(8, 4.8), dpi=125)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.11, right=0.88, top=0.9, bottom=0.17)
    ax = fig.add_subplot()
    marker = "o" if len(dates) <= MARKER_LIMIT else None
    ax.plot(dates, ys, color="#1f5fa8", linewidth=2, marker=marker, markersize=4)
    ax.plot(dates[-1:], ys[-1:], color="#1f5fa8", marker="o", markersize=6)
    # Three ticks on a short series would mean hourly ticks; on a long one two are too few.
    locator = AutoDateLocator(minticks=2 if (dates[-1] - dates[0]).days < 7 else 3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    # "08 Nov" on day ticks reads better than a bare "08" plus a "2026-Nov" offset.
    day_formats = ["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%S"]
    offsets = ["", "%Y", "%Y", "%Y-%b-%d", "%Y-%b-%d", "%Y-%b-%d %H:%M"]
    dates_format = ConciseDateFormatter(locator, formats=day_formats, offset_formats=offsets)
    ax.xaxis.set_major_formatter(dates_format)
    ax.yaxis.set_major_formatter(_PlainFormatter())
    ax.set_ylabel(f"{currency} per {base}")
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    span = f"last {days} days" if days else f"{dates[0]:%d %b %Y} – {dates[-1]:%d %b %Y}"
    ax.set_title(f"{currency} per 1 {base}, {span}", fontsize=13, loc="left")
    latest = values[-1]
    label = f"{latest:,.2f}" if latest >= 1 else f"{latest:.4f}"
    ax.annotate(
        label,
        xy=(dates[-1], ys[-1]),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        annotation_clip=False,
        fontsize=10,
        fontweight="bold",
    )
    fig.text(0.01, 0.015, f"Source: {source_title or source}", fontsize=8, color="#555555")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()

"""The rates block: each currency's latest value, its change within one source, its age."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlite_utils import Database

from digest.providers.registry import PROVIDERS
from storage.rates import history, latest_by_source
from storage.records import RateObservation


@dataclass(frozen=True)
class RateLine:
    """One currency as the digest shows it: value of one unit in the base, change, source, age."""

    currency: str
    base: str
    value: Decimal
    previous: Decimal | None
    source: str
    as_of: date
    stale: bool

    @property
    def change_pct(self) -> Decimal | None:
        if self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / self.previous * 100


def business_days_between(earlier: date, later: date) -> int:
    """Weekdays after `earlier` up to and including `later` (0 when later <= earlier)."""
    days = 0
    current = earlier
    while current < later:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days


def is_stale(observation: RateObservation, today: date) -> bool:
    """Older than the previous business day for a daily source; a fixed rate never is."""
    provider = PROVIDERS.get(observation.source)
    if provider is not None and not provider.needs_http:  # a fixed official rate does not age
        return False
    return business_days_between(observation.as_of, today) > 1


def latest_line(
    observations: Sequence[RateObservation], today: date, preferred: Sequence[str] = ()
) -> RateLine | None:
    """Pick the newest observation (preferred sources first on a tie), and its source's previous one."""
    if not observations:
        return None
    rank = {source: i for i, source in enumerate(preferred)}
    latest = max(observations, key=lambda o: (o.as_of, -rank.get(o.source, len(rank)), o.source))
    same_source = [o for o in observations if o.source == latest.source and o.as_of < latest.as_of]
    # The same source's previous stored fixing; else what the source itself said it was.
    previous = max(same_source, key=lambda o: o.as_of).value if same_source else latest.previous
    return RateLine(
        currency=latest.currency,
        base=latest.base,
        value=latest.value,
        previous=previous,
        source=latest.source,
        as_of=latest.as_of,
        stale=is_stale(latest, today),
    )


def rate_lines(
    db: Database,
    currencies: Sequence[str],
    base: str,
    today: date,
    chains: Mapping[str, Sequence[str]] | None = None,
) -> list[RateLine]:
    """The block for these currencies, in the order given; currencies with no data are left out.

    The newest fixing wins; on the same day the source earlier in the currency's chain does.
    """
    lines = []
    for currency in currencies:
        preferred = (chains or {}).get(currency, ())
        line = latest_line(latest_by_source(db, currency, base), today, preferred)
        if line is not None:
            lines.append(line)
    return lines


def format_value(value: Decimal, significant: int = 3) -> str:
    """Enough significant figures that small units stay readable: 0.00196, 0.0000820."""
    if value == 0:
        return "0"
    exponent = value.adjusted()
    quantum = Decimal(1).scaleb(exponent - significant + 1)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    text = format(rounded, "f")
    return text


def format_inverse(value: Decimal) -> str:
    """The familiar direction, two decimals: 478.77."""
    return format((Decimal(1) / value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), ",f")


def format_change(pct: Decimal | None) -> str:
    """Signed percentage with two decimals, or an en dash when there is nothing to compare."""
    if pct is None:
        return "–"
    rounded = pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        return "0.00%"
    return f"{rounded:+f}%"


def chart_png(
    db: Database,
    currency: str,
    base: str,
    days: int,
    today: date,
    chains: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """The PNG of one currency's history, from the source its rate line shows; ChartError if short.

    One source's line only: values of two sources differ by a few percent and must not mix.
    """
    from digest.chart import chart_series, render_chart
    from digest.providers.registry import source_title

    observations = history(db, currency, base, since=today - timedelta(days=days))
    line = latest_line(observations, today, (chains or {}).get(currency, ()))
    source = chart_series(observations, source=line.source if line else None, currency=currency)[0]
    return render_chart(
        [o for o in observations if o.source == source],
        currency=currency,
        base=base,
        source_title=source_title(source),
        days=days,
        now=today,
    )

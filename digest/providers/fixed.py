"""Central Bank of Turkmenistan: the manat is pegged, so its official rate is a constant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from digest.providers.base import Payload, Provider, ProviderError, per_unit, require_usd
from storage.records import RateObservation

SOURCE = "Central Bank of Turkmenistan"
MANAT_PER_USD = Decimal("3.5")
FIXED_SINCE = date(2015, 1, 1)


class TurkmenistanFixedRate(Provider):
    """TMT at the official 3.5 per USD, dated the day asked. Nothing is fetched (the bank's site
    blocks ordinary clients): call `parse(Payload(b""), "USD", day=day)`; the payload is ignored."""

    name = "cbtm-fixed"
    title = "Central Bank of Turkmenistan (official fixed rate)"
    needs_http = False

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return ""  # nothing to fetch

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, SOURCE)
        if day is None:
            raise ProviderError(f"the {SOURCE} fixed rate needs the day asked (parse(..., day=))")
        if day < FIXED_SINCE:
            raise ProviderError(
                f"the {SOURCE} rate is fixed only since {FIXED_SINCE:%Y-%m-%d}, not on {day:%Y-%m-%d}"
            )
        value = per_unit(MANAT_PER_USD, Decimal(1))
        return [RateObservation("TMT", base, value, self.name, day)]

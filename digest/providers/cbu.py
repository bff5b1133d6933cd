"""Central Bank of Uzbekistan: the official sum rates, a JSON list per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from digest.providers.base import (
    Payload,
    Provider,
    ProviderError,
    decimal,
    parse_day,
    parse_json,
    per_unit,
    require_usd,
)
from storage.records import RateObservation


class CentralBankOfUzbekistan(Provider):
    """UZS from a JSON list of objects whose fields are all strings: `Ccy`, `Nominal`, `Rate`
    (sum per `Nominal` units), `Diff`, `Date` (DD.MM.YYYY).

    For a day without a fixing the bank silently sends another day's list: the USD row's own
    Date is kept, and the caller decides whether that day will do."""

    name = "cbu"
    title = "Central Bank of Uzbekistan"

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return f"{self.base_url}/en/arkhiv-kursov-valyut/json/all/{day:%Y-%m-%d}/"

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, self.title)
        rows = parse_json(payload, self.title)
        if not isinstance(rows, list):
            raise ProviderError(f"{self.title} sent JSON that is not a list of rates")
        usd = next((r for r in rows if isinstance(r, dict) and r.get("Ccy") == "USD"), None)
        if usd is None:
            raise ProviderError(f"{self.title} sent no USD rate")
        as_of = parse_day(_text(usd.get("Date")), ("%d.%m.%Y",), f"the {self.title} payload")
        what = f"the {self.title} USD rate"
        rate = decimal(_text(usd.get("Rate")), what)
        nominal = decimal(_text(usd.get("Nominal")), what)
        previous = None
        try:
            diff = decimal(_text(usd.get("Diff")), what)
            if rate - diff > 0:
                previous = per_unit(rate - diff, nominal, what)
        except ProviderError:
            pass  # no Diff stated: the change comes from stored history
        return [
            RateObservation(
                "UZS", base, per_unit(rate, nominal, what), self.name, as_of, previous=previous
            )
        ]


def _text(field: object) -> str | None:
    """A JSON field as text: the bank sends strings, but a number would mean the same."""
    return None if field is None else str(field)

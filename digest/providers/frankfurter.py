"""Frankfurter v2: an aggregated JSON API blending the central banks; the last fallback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from urllib.parse import quote

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

SOURCE = "Frankfurter"


class Frankfurter(Provider):
    """Rates from `/v2/rates?date=YYYY-MM-DD&base=USD&quotes=KZT,KGS`: a JSON list of
    `{"date", "base", "quote", "rate"}` where `rate` is quote units per one base unit; an error
    is a JSON object with a message. Each row keeps its own date."""

    name = "frankfurter"
    title = "Frankfurter (aggregated rates)"

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        """The rates per USD on `day` for `currencies` (all the API has when none are given)."""
        codes = dict.fromkeys(c.strip().upper() for c in currencies)
        quotes = ",".join(quote(c, safe="") for c in codes if c and c != "USD")
        address = f"{self.base_url}/v2/rates?date={day:%Y-%m-%d}&base=USD"
        return f"{address}&quotes={quotes}" if quotes else address

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, SOURCE)
        rows = parse_json(payload, SOURCE)
        if isinstance(rows, dict):
            message = rows.get("message") or rows.get("error") or rows.get("detail") or rows
            raise ProviderError(f"{SOURCE} answered with an error: {message}")
        if not isinstance(rows, list) or not rows:
            raise ProviderError(f"{SOURCE} sent no rates")
        return [obs for obs in (self._observation(row, base) for row in rows) if obs]

    def _observation(self, row: object, base: str) -> RateObservation | None:
        if not isinstance(row, dict):
            raise ProviderError(f"{SOURCE} sent a rate that is not a JSON object")
        if row.get("base") != base:
            raise ProviderError(f"{SOURCE} sent rates per {row.get('base')}, not per {base}")
        code = str(row.get("quote") or "").strip().upper()
        if not code:
            raise ProviderError(f"{SOURCE} sent a rate without a currency")
        if code == base:
            return None
        what = f"the {SOURCE} {code} rate"
        as_of = parse_day(_text(row.get("date")), ("%Y-%m-%d",), what)
        value = per_unit(decimal(_text(row.get("rate")), what), Decimal(1), what)
        return RateObservation(code, base, value, self.name, as_of)


def _text(field: object) -> str | None:
    return None if field is None else str(field)

"""National Bank of Kazakhstan: the official tenge rates, an RSS-like XML file per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from digest.providers.base import (
    Payload,
    Provider,
    ProviderError,
    parse_day,
    parse_xml,
    require_usd,
)
from storage.records import RateObservation


class NationalBankOfKazakhstan(Provider):
    """KZT from `<rates><date>DD.MM.YYYY</date><item>...</item></rates>`; one item per currency
    with `<title>` (code), `<description>` (tenge per `<quant>` units)."""

    name = "nbk"
    title = "National Bank of Kazakhstan"

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return f"{self.base_url}/rss/get_rates.cfm?fdate={day:%d.%m.%Y}"

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, self.title)
        root = parse_xml(payload, self.title, "rates")
        items = root.findall("item")
        if not items:
            # A day without a fixing: <info> stands where the items would be.
            info = " ".join((root.findtext("info") or "").split())
            reason = f": {info}" if info else ""
            raise ProviderError(f"{self.title} has no rates in its answer{reason}")
        as_of = parse_day(root.findtext("date"), ("%d.%m.%Y",), f"the {self.title} payload")
        usd = next((i for i in items if (i.findtext("title") or "").strip() == "USD"), None)
        return self.usd_observation(
            "KZT", usd, "description", "quant", base, as_of, change=_change(usd)
        )


def _change(item) -> Decimal | None:
    """The bank's change since its previous fixing, signed by <index> when it is not."""
    text = (item.findtext("change") or "").strip() if item is not None else ""
    if not text:
        return None
    try:
        change = Decimal(text.replace(",", ".").lstrip("+"))
    except ArithmeticError:
        return None
    if (item.findtext("index") or "").strip().upper() == "DOWN" and change > 0:
        change = -change
    return change

"""National Bank of the Kyrgyz Republic: the daily som rates, published a day ahead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from digest.providers.base import (
    Payload,
    Provider,
    parse_day,
    parse_xml,
    require_usd,
)
from storage.records import RateObservation


class NationalBankOfKyrgyzRepublic(Provider):
    """KGS from the windows-1251 `<CurrencyRates Date="DD.MM.YYYY">` file with
    `<Currency ISOCode="USD"><Nominal>1</Nominal><Value>87,4500</Value>` (comma decimals).

    The file has no date parameter: it is always the latest fixing, which in the afternoon is
    already tomorrow's; its own Date is kept as stated."""

    name = "nbkr"
    title = "National Bank of the Kyrgyz Republic"
    publishes_ahead = True

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return f"{self.base_url}/XML/daily.xml"

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, self.title)
        root = parse_xml(payload, self.title, "CurrencyRates")
        as_of = parse_day(root.get("Date"), ("%d.%m.%Y",), f"the {self.title} payload")
        usd = next((c for c in root.iter("Currency") if c.get("ISOCode") == "USD"), None)
        return self.usd_observation("KGS", usd, "Value", "Nominal", base, as_of)

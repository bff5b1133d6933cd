"""National Bank of Tajikistan: the official somoni rates, an XML file per day."""

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


class NationalBankOfTajikistan(Provider):
    """TJS from `<ValCurs Date="YYYY-MM-DD">` with `<Valute><CharCode>USD</CharCode>
    <Nominal>1</Nominal><Value>9.3450</Value>`; for a day without a fixing the bank sends
    another day's file, so the file's own Date is kept."""

    name = "nbt"
    title = "National Bank of Tajikistan"

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return f"{self.base_url}/en/kurs/export_xml.php?date={day:%Y-%m-%d}&export=xmlout"

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        require_usd(base, self.title)
        root = parse_xml(payload, self.title, "ValCurs")
        as_of = parse_day(root.get("Date"), ("%Y-%m-%d",), f"the {self.title} payload")
        usd = next(
            (v for v in root.iter("Valute") if (v.findtext("CharCode") or "").strip() == "USD"),
            None,
        )
        return self.usd_observation("TJS", usd, "Value", "Nominal", base, as_of)

"""Central Bank of Russia: ruble rates for most currencies, crossed through the ruble into USD."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from lxml import etree

from digest.providers.base import (
    Payload,
    Provider,
    ProviderError,
    decimal,
    parse_day,
    parse_xml,
    per_unit,
)
from storage.records import RateObservation

SOURCE = "Central Bank of Russia"


class CentralBankOfRussia(Provider):
    """Every currency in the windows-1251 `<ValCurs Date="DD.MM.YYYY">` file, plus RUB itself,
    valued in `base` by crossing through the ruble: one KZT in USD is (rubles per KZT) / (rubles
    per USD). `<Value>` is rubles per `<Nominal>` units (KZT 100, UZS 10000, TJS 10), with comma
    decimals. A cross rate differs from the home bank's by a few percent: the title says so."""

    name = "cbr"
    title = "Central Bank of Russia (cross rate)"

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        return f"{self.base_url}/scripts/XML_daily.asp?date_req={day:%d/%m/%Y}"

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        root = parse_xml(payload, SOURCE, "ValCurs")
        as_of = parse_day(root.get("Date"), ("%d.%m.%Y",), f"the {SOURCE} payload")
        rubles = _rubles_per_nominal(root)
        if base == "RUB":
            base_value, base_nominal = Decimal(1), Decimal(1)
        elif base in rubles:
            base_value, base_nominal = rubles[base]
        else:
            raise ProviderError(f"{SOURCE} sent no {base} rate to cross through")

        observations = []
        for code, (value, nominal) in rubles.items():
            if code == base:
                continue
            # (value / nominal) / (base_value / base_nominal), rounded once.
            cross = per_unit(
                nominal * base_value, value * base_nominal, f"the {SOURCE} {code} rate"
            )
            observations.append(RateObservation(code, base, cross, self.name, as_of))
        if base != "RUB":
            rub = per_unit(base_value, base_nominal, f"the {SOURCE} {base} rate")
            observations.append(RateObservation("RUB", base, rub, self.name, as_of))
        return observations


def _rubles_per_nominal(root: etree._Element) -> dict[str, tuple[Decimal, Decimal]]:
    """Code -> (rubles, units) for every `<Valute>`; a row that is not a usable price is an error."""
    rubles: dict[str, tuple[Decimal, Decimal]] = {}
    for valute in root.iter("Valute"):
        code = (valute.findtext("CharCode") or "").strip().upper()
        if not code or code in rubles:
            continue
        what = f"the {SOURCE} {code} rate"
        value = decimal(valute.findtext("Value"), what)
        nominal = decimal(valute.findtext("Nominal"), what)
        if value <= 0 or nominal <= 0:
            raise ProviderError(f"{what} of {value} per {nominal} units is not a usable price")
        rubles[code] = (value, nominal)
    return rubles

"""Every rates provider by name, the real sites they read, and the default chain per currency."""

from __future__ import annotations

from digest.providers.base import Provider
from digest.providers.cbr import CentralBankOfRussia
from digest.providers.cbu import CentralBankOfUzbekistan
from digest.providers.fixed import TurkmenistanFixedRate
from digest.providers.frankfurter import Frankfurter
from digest.providers.nbk import NationalBankOfKazakhstan
from digest.providers.nbkr import NationalBankOfKyrgyzRepublic
from digest.providers.nbt import NationalBankOfTajikistan

PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls
    for cls in (
        NationalBankOfKazakhstan,
        NationalBankOfKyrgyzRepublic,
        CentralBankOfUzbekistan,
        NationalBankOfTajikistan,
        TurkmenistanFixedRate,
        CentralBankOfRussia,
        Frankfurter,
    )
}

DEFAULT_BASE_URLS: dict[str, str] = {
    "nbk": "https://nationalbank.kz",
    "nbkr": "https://www.nbkr.kg",
    "cbu": "https://cbu.uz",
    "nbt": "https://www.nbt.tj",
    "cbtm-fixed": "",  # a constant: nothing is fetched
    "cbr": "https://www.cbr.ru",
    "frankfurter": "https://api.frankfurter.dev",
}

# Home bank first, the Central Bank of Russia's cross rate next, the aggregator last.
DEFAULT_CHAINS: dict[str, list[str]] = {
    "KZT": ["nbk", "cbr", "frankfurter"],
    "KGS": ["nbkr", "cbr", "frankfurter"],
    "UZS": ["cbu", "cbr", "frankfurter"],
    "TJS": ["nbt", "cbr", "frankfurter"],
    "TMT": ["cbtm-fixed"],
    "RUB": ["cbr", "frankfurter"],
    "EUR": ["cbr", "frankfurter"],
    "CNY": ["cbr", "frankfurter"],
}


class UnknownProviderError(ValueError):
    """A provider name that no module implements; the message lists the known ones."""


def make_provider(name: str, base_url: str = "") -> Provider:
    """The provider called `name`, reading from `base_url` (its real site when empty)."""
    try:
        cls = PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(
            f"unknown rates provider '{name}'; known providers: {known}"
        ) from None
    return cls(base_url or DEFAULT_BASE_URLS.get(name, ""))


def source_title(name: str) -> str:
    """The name to show for a source ("nbk" -> "National Bank of Kazakhstan"); unknown names
    are returned as they are."""
    cls = PROVIDERS.get(name)
    return cls.title if cls else name

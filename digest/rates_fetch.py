"""Fetching rates along each currency's chain of sources, falling back when a source fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlite_utils import Database

from digest.config import Config
from digest.feeds import FetchError, fetch_bytes
from digest.providers.base import Payload, Provider, ProviderError, acceptable_date
from digest.providers.registry import PROVIDERS, make_provider
from storage.rates import add_observations
from storage.records import RateObservation

log = logging.getLogger(__name__)


@dataclass
class CurrencyOutcome:
    """Where one currency's rate came from, and why the sources before it were passed over."""

    currency: str
    observation: RateObservation | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (provider, reason)


@dataclass
class RatesReport:
    day: date
    outcomes: list[CurrencyOutcome]
    stored: int = 0
    # Everything the sources that answered published (a cross-rate file has dozens of
    # currencies): kept too, so each source's own history, and its day-to-day change, builds up.
    published: list[RateObservation] = field(default_factory=list)

    @property
    def observations(self) -> list[RateObservation]:
        return [o.observation for o in self.outcomes if o.observation is not None]


async def _load(
    provider: Provider,
    day: date,
    currencies: list[str],
    base: str,
    config: Config,
    client: httpx.AsyncClient,
) -> list[RateObservation]:
    """One provider's observations for `day`; ProviderError on any failure, logged once."""
    try:
        if provider.needs_http:
            url = provider.url(day, currencies=currencies)
            fetched = await fetch_bytes(client, url, config.fetch)
            if fetched.status_code != 200:
                raise ProviderError(f"{provider.name} answered HTTP {fetched.status_code}")
            payload = Payload(fetched.content, fetched.headers.get("content-type"))
        else:
            payload = Payload(b"")
        observations = provider.parse(payload, base, day=day)
        if not observations:
            raise ProviderError(f"{provider.name} answered with no rates")
        return observations
    except FetchError as exc:
        error = ProviderError(f"{provider.name}: {exc}")
    except ProviderError as exc:
        error = exc
    log.warning("rates source %s failed: %s", provider.name, error)
    raise error


async def fetch_rates(
    config: Config,
    *,
    day: date | None = None,
    client: httpx.AsyncClient | None = None,
    currencies: Sequence[str] | None = None,
) -> RatesReport:
    """Each configured currency's rate for `day` (default: today in the default time zone).

    Sources are asked round by round: first every currency's first choice, concurrently; then,
    for the currencies still missing, their next source. Each provider is asked at most once.
    """
    # "Today" is the region's day, not UTC's: at 02:00 in Almaty the banks are on the new date.
    day = day or datetime.now(ZoneInfo(config.bot.default_timezone)).date()
    rates = config.rates
    wanted = currencies or rates.currencies
    outcomes = {c: CurrencyOutcome(c) for c in wanted if c != rates.base}
    results: dict[str, list[RateObservation] | ProviderError] = {}
    own_client = client is None
    client = client or httpx.AsyncClient(
        timeout=config.fetch.timeout, headers={"User-Agent": config.fetch.user_agent}
    )
    try:
        round_ = 0
        while True:
            pending = [
                c
                for c, o in outcomes.items()
                if o.observation is None and round_ < len(rates.chain(c))
            ]
            if not pending:
                break
            wanted: dict[str, list[str]] = {}
            for currency in pending:
                wanted.setdefault(rates.chain(currency)[round_], []).append(currency)
            to_ask = [name for name in wanted if name not in results]
            providers = {n: make_provider(n, rates.sources.get(n, "")) for n in to_ask}
            answers = await asyncio.gather(
                *(_load(providers[n], day, wanted[n], rates.base, config, client) for n in to_ask),
                return_exceptions=True,
            )
            for name, answer in zip(to_ask, answers, strict=True):
                if isinstance(answer, BaseException) and not isinstance(answer, ProviderError):
                    log.error("rates source %s crashed", name, exc_info=answer)
                    answer = ProviderError(f"{name} failed unexpectedly ({type(answer).__name__})")
                results[name] = answer
            for currency in pending:
                name = rates.chain(currency)[round_]
                _take(outcomes[currency], name, results[name], day)
            round_ += 1
    finally:
        if own_client:
            await client.aclose()
    published = [o for answer in results.values() if isinstance(answer, list) for o in answer]
    return RatesReport(day=day, outcomes=list(outcomes.values()), published=published)


def _take(
    outcome: CurrencyOutcome, name: str, result: list[RateObservation] | ProviderError, day: date
) -> None:
    """Accept the provider's observation of this currency, or note why not."""
    if isinstance(result, ProviderError):
        outcome.failures.append((name, str(result)))
        return
    found = [o for o in result if o.currency == outcome.currency]
    if not found:
        outcome.failures.append((name, f"{name} publishes no {outcome.currency} rate"))
        return
    observation = max(found, key=lambda o: o.as_of)
    publishes_ahead = PROVIDERS[name].publishes_ahead
    if not acceptable_date(observation.as_of, day, publishes_ahead):
        outcome.failures.append(
            (name, f"{name} answered with the rate of {observation.as_of}, not of {day}")
        )
        return
    outcome.observation = observation


def store_rates(db: Database, report: RatesReport, fetched_at: datetime | None = None) -> int:
    """Keep every observation the sources published; returns how many were new.

    Only those dated as the payload states are kept; a file for another day is a fact too.
    """
    report.stored = add_observations(db, [*report.observations, *report.published], fetched_at)
    return report.stored

"""What every rates provider is: a URL for a day, and a parser from payload bytes to observations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from lxml import etree

from storage.records import RateObservation

# Stored values keep this many significant digits: far beyond any bank's precision.
SIGNIFICANT = 12


class ProviderError(Exception):
    """A payload that cannot be used (error page, no data, wrong date, empty); one clear sentence."""


@dataclass(frozen=True)
class Payload:
    """Bytes as a source answered, with the Content-Type it declared."""

    content: bytes
    content_type: str | None = None


class Provider:
    """One source. Subclasses set `name`, `title` and `publishes_ahead`, and implement url/parse.

    A provider with `needs_http = False` (the fixed TMT rate) is not fetched: call
    `parse(Payload(b""), base, day=day)` and it answers for `day`. Providers keep no state.
    """

    name: str = ""
    title: str = ""  # shown beside a rate and under a chart: "National Bank of Kazakhstan"
    publishes_ahead: bool = False  # the payload may carry tomorrow's date (NBKR)
    needs_http: bool = True

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url.rstrip("/")

    def url(self, day: date, *, currencies: Sequence[str] = ()) -> str:
        """The address of the payload for `day`; `currencies` narrows an aggregator's request
        (the others ignore it)."""
        raise NotImplementedError

    def usd_observation(
        self,
        currency: str,
        row: Any,
        value_tag: str,
        nominal_tag: str,
        base: str,
        as_of: date,
        change: Decimal | None = None,
    ) -> list[RateObservation]:
        """The one observation a home bank's file gives: its USD row, local units per nominal.

        `change` is the bank's own change in local units since its previous fixing, if stated.
        """
        if row is None:
            raise ProviderError(f"{self.title} sent no USD rate")
        what = f"the {self.title} USD rate"
        local = decimal(row.findtext(value_tag), what)
        nominal = decimal(row.findtext(nominal_tag), what)
        previous = None
        if change is not None and local - change > 0:
            previous = per_unit(local - change, nominal, what)
        return [
            RateObservation(
                currency,
                base,
                per_unit(local, nominal, what),
                self.name,
                as_of,
                previous=previous,
            )
        ]

    def parse(
        self, payload: Payload, base: str = "USD", *, day: date | None = None
    ) -> list[RateObservation]:
        """Observations in the payload, dated by the payload itself; ProviderError if unusable.
        `day` is the day asked, used only by a source without a payload (the fixed rate)."""
        raise NotImplementedError


def per_unit(value: Decimal, nominal: Decimal, what: str = "a rate") -> Decimal:
    """Base-currency value of one unit, given `value` base units per `nominal` units;
    `what` names the rate in the error ("the National Bank of Kazakhstan USD rate")."""
    if value <= 0 or nominal <= 0:
        raise ProviderError(f"{what} of {value} per {nominal} units is not a usable price")
    with localcontext() as ctx:
        ctx.prec = SIGNIFICANT
        return nominal / value


def decimal(text: str | None, what: str) -> Decimal:
    """A number as banks write it: '87,4500', ' 478.77 ', '1 000'."""
    if text is None or not text.strip():
        raise ProviderError(f"the payload has no value for {what}")
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(cleaned)
    except ArithmeticError:
        raise ProviderError(f"'{text.strip()}' is not a number ({what})") from None
    if not number.is_finite():
        raise ProviderError(f"'{text.strip()}' is not a number ({what})")
    return number


def parse_day(text: str | None, formats: tuple[str, ...], what: str = "the payload") -> date:
    """The date a payload states about itself; ProviderError when it has none."""
    if not text or not text.strip():
        raise ProviderError(f"{what} states no date")
    for fmt in formats:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ProviderError(f"{what} has an unreadable date '{text.strip()}'")


def looks_like_html(payload: Payload) -> bool:
    """An error or anti-bot page where a data file was expected."""
    head = payload.content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]:
        return True
    # PHP and ColdFusion scripts send text/html by default: a body that is plainly XML or JSON
    # is data whatever the header says.
    if head.startswith((b"<?xml", b"[", b"{")):
        return False
    return bool(payload.content_type and "html" in payload.content_type.lower())


def check_payload(payload: Payload, source: str) -> None:
    """ProviderError for an answer that cannot hold rates: empty, or an HTML page."""
    if not payload.content.strip():
        raise ProviderError(f"{source} sent an empty answer")
    if looks_like_html(payload):
        raise ProviderError(
            f"{source} sent an HTML page (an error or anti-bot page) instead of rates"
        )


def parse_xml(payload: Payload, source: str, root: str) -> etree._Element:
    """The root element of an XML payload, its encoding taken from the XML declaration (the
    Content-Type charset is ignored); ProviderError for an unusable answer or another root tag."""
    check_payload(payload, source)
    # No DTDs, entities or network: a rates file needs none. A parser per call: lxml parsers
    # are not to be shared between threads.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        element = etree.fromstring(payload.content, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ProviderError(f"{source} sent malformed XML ({exc})") from None
    if element.tag != root:
        raise ProviderError(f"{source} sent <{element.tag}> where <{root}> was expected")
    return element


def parse_json(payload: Payload, source: str) -> Any:
    """A JSON payload with numbers kept as Decimal; ProviderError for an unusable answer."""
    check_payload(payload, source)
    try:
        return json.loads(payload.content, parse_float=Decimal)
    except ValueError as exc:
        raise ProviderError(f"{source} sent malformed JSON ({exc})") from None


def require_usd(base: str, source: str) -> None:
    """ProviderError unless `base` is USD, for a source whose rates are read off its USD row."""
    if base != "USD":
        raise ProviderError(f"{source} publishes only values per USD, not per {base}")


def acceptable_date(payload_day: date, asked: date, publishes_ahead: bool) -> bool:
    """The payload is for the day asked, tomorrow for a source that publishes ahead, or, when a
    weekend was asked for, the business day before it (banks publish no weekend fixings)."""
    if payload_day == asked:
        return True
    if publishes_ahead and payload_day == asked + timedelta(days=1):
        return True
    if asked.weekday() >= 5:
        last_business = asked - timedelta(days=asked.weekday() - 4)
        return last_business <= payload_day <= asked
    return False

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from digest.providers.base import Payload, ProviderError, decimal, parse_xml
from digest.providers.registry import (
    DEFAULT_BASE_URLS,
    DEFAULT_CHAINS,
    PROVIDERS,
    UnknownProviderError,
    make_provider,
    source_title,
)

RATES = Path(__file__).parent / "fixtures" / "rates"
ASKED = date(2026, 11, 25)  # a Wednesday
HTTP_PROVIDERS = ["nbk", "nbkr", "cbu", "nbt", "cbr", "frankfurter"]


def fixture(name: str) -> bytes:
    return (RATES / name).read_bytes()


def parse(provider: str, content: bytes, base: str = "USD", content_type: str | None = None):
    return make_provider(provider).parse(Payload(content, content_type), base, day=ASKED)


def edited(name: str, old: bytes, new: bytes) -> bytes:
    """A fixture with one piece replaced; fails loudly if the piece is not there."""
    content = fixture(name)
    assert old in content, f"{old!r} not in {name}"
    return content.replace(old, new)


def by_currency(observations) -> dict:
    return {o.currency: o for o in observations}


@pytest.mark.parametrize(
    ("provider", "name", "currency", "per_usd", "expected", "as_of"),
    [
        ("nbk", "nbk.xml", "KZT", "508.93", "0.00196490676517", date(2026, 11, 25)),
        ("nbkr", "nbkr_daily.xml", "KGS", "87.4215", "0.0114388336965", date(2026, 11, 26)),
        ("cbu", "cbu.json", "UZS", "12050.37", "0.0000829850037800", date(2026, 11, 25)),
        ("nbt", "nbt.xml", "TJS", "9.3874", "0.106525768583", date(2026, 11, 25)),
    ],
)
def test_home_bank_gives_the_usd_value_of_one_local_unit(
    provider, name, currency, per_usd, expected, as_of
):
    [obs] = parse(provider, fixture(name))

    assert (obs.currency, obs.base, obs.source, obs.as_of) == (currency, "USD", provider, as_of)
    assert isinstance(obs.value, Decimal)
    assert obs.value == Decimal(expected)
    assert abs(obs.value * Decimal(per_usd) - 1) < Decimal("1e-10")
    assert len(obs.value.normalize().as_tuple().digits) <= 12


def test_nbkr_keeps_the_next_day_it_states():
    [obs] = parse("nbkr", fixture("nbkr_daily.xml"))

    assert obs.as_of == date(2026, 11, 26) != ASKED
    assert make_provider("nbkr").publishes_ahead


def test_cbu_keeps_the_other_day_its_file_states():
    [obs] = parse("cbu", fixture("cbu_otherday.json"))

    assert obs.as_of == date(2026, 11, 24)
    assert obs.value == Decimal("0.0000828996301019")


@pytest.mark.parametrize("name", ["nbkr_daily.xml", "cbr.xml"])
def test_cp1251_fixtures_are_really_cp1251(name):
    with pytest.raises(UnicodeDecodeError):
        fixture(name).decode("utf-8")


@pytest.mark.parametrize(
    "content_type",
    [None, "application/xml; charset=windows-1251", "text/xml; charset=utf-8"],
)
def test_cp1251_payload_is_decoded_by_its_xml_declaration_whatever_the_header_says(content_type):
    payload = Payload(fixture("nbkr_daily.xml"), content_type)

    root = parse_xml(payload, "test source", "CurrencyRates")

    assert root.get("Name") == "Официальные курсы валют"
    assert parse("nbkr", payload.content, content_type=content_type)[0].value == Decimal(
        "0.0114388336965"
    )
    cbr = by_currency(parse("cbr", fixture("cbr.xml"), content_type=content_type))
    assert cbr["KZT"].value == Decimal("0.00196464152087")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("87,4215", "87.4215"),
        ("0,0066806", "0.0066806"),
        (" 1 000,5 ", "1000.5"),
        ("478.77", "478.77"),
    ],
)
def test_comma_decimals_and_spaces_are_read_as_bank_numbers(text, expected):
    assert decimal(text, "a test rate") == Decimal(expected)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-", "n/a"])
def test_a_value_that_is_not_a_finite_number_is_an_error(text):
    with pytest.raises(ProviderError, match="not a number"):
        decimal(text, "a test rate")


@pytest.mark.parametrize(
    ("currency", "rubles", "nominal", "expected"),
    [
        ("KZT", "15.8156", 100, "0.00196464152087"),
        ("KGS", "92.0855", 100, "0.0114390220270"),
        ("UZS", "66.8060", 10000, "0.0000829875827938"),
        ("TJS", "85.7308", 10, "0.106496300676"),
        ("EUR", "93.1547", 1, "1.15718399229"),
        ("CNY", "11.3021", 1, "0.140396664894"),
        ("RUB", "1", 1, "0.0124221750732"),
    ],
)
def test_cbr_crosses_each_currency_through_the_ruble_per_nominal(
    currency, rubles, nominal, expected
):
    obs = by_currency(parse("cbr", fixture("cbr.xml")))[currency]

    assert (obs.base, obs.source, obs.as_of) == ("USD", "cbr", date(2026, 11, 25))
    assert obs.value == Decimal(expected)
    # one unit in USD = (rubles per unit) / (rubles per USD)
    assert abs(obs.value * Decimal("80.5012") * nominal / Decimal(rubles) - 1) < Decimal("1e-10")


def test_cbr_gives_every_currency_in_its_file_and_the_ruble_but_not_the_base():
    currencies = {o.currency for o in parse("cbr", fixture("cbr.xml"))}

    assert currencies == {"EUR", "KZT", "KGS", "CNY", "TJS", "UZS", "RUB"}
    assert make_provider("cbr").title == "Central Bank of Russia (cross rate)"


def test_cbr_crosses_into_another_base_currency():
    in_eur = by_currency(parse("cbr", fixture("cbr.xml"), base="EUR"))
    in_rub = by_currency(parse("cbr", fixture("cbr.xml"), base="RUB"))

    assert in_eur["USD"].value == Decimal("0.864166810692")  # 80.5012 / 93.1547
    assert in_eur["RUB"].value == Decimal("0.0107348314148")  # 1 / 93.1547
    assert {o.base for o in in_eur.values()} == {"EUR"}
    assert in_rub["KZT"].value == Decimal("0.158156")
    assert in_rub["USD"].value == Decimal("80.5012")
    assert "RUB" not in in_rub


def test_cbr_without_the_base_currency_is_an_error():
    with pytest.raises(ProviderError, match="Central Bank of Russia sent no GBP rate"):
        parse("cbr", fixture("cbr.xml"), base="GBP")


@pytest.mark.parametrize(
    ("provider", "name"),
    [
        ("nbk", "nbk.xml"),
        ("nbkr", "nbkr_daily.xml"),
        ("cbu", "cbu.json"),
        ("nbt", "nbt.xml"),
        ("frankfurter", "frankfurter.json"),
    ],
)
def test_sources_read_off_a_usd_row_refuse_another_base(provider, name):
    with pytest.raises(ProviderError, match="publishes only values per USD"):
        parse(provider, fixture(name), base="EUR")


@pytest.mark.parametrize(
    "day", [date(2015, 1, 1), ASKED, date(2026, 11, 28), date(2027, 1, 1), date(2031, 6, 30)]
)
def test_fixed_tmt_rate_is_one_over_three_and_a_half_on_the_day_asked(day):
    provider = make_provider("cbtm-fixed")

    [obs] = provider.parse(Payload(b""), "USD", day=day)

    assert not provider.needs_http
    assert (obs.currency, obs.base, obs.source, obs.as_of) == ("TMT", "USD", "cbtm-fixed", day)
    assert obs.value == Decimal("0.285714285714")
    assert abs(obs.value * Decimal("3.5") - 1) < Decimal("1e-11")


def test_fixed_tmt_rate_ignores_whatever_payload_it_is_given():
    [obs] = make_provider("cbtm-fixed").parse(Payload(fixture("cbr_antibot.html")), day=ASKED)

    assert obs.value == Decimal("0.285714285714")


@pytest.mark.parametrize(
    ("day", "message"),
    [(None, "needs the day asked"), (date(2014, 12, 31), "fixed only since 2015-01-01")],
)
def test_fixed_tmt_rate_without_a_day_or_before_the_peg_is_an_error(day, message):
    with pytest.raises(ProviderError, match=message):
        make_provider("cbtm-fixed").parse(Payload(b""), "USD", day=day)


def test_nbk_no_data_answer_is_an_error_quoting_the_bank():
    with pytest.raises(ProviderError) as raised:
        parse("nbk", fixture("nbk_nodata.xml"))

    assert "National Bank of Kazakhstan has no rates" in str(raised.value)
    assert "Нет данных на указанную дату" in str(raised.value)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_html_page_is_an_error_naming_the_source(provider, content_type):
    with pytest.raises(ProviderError) as raised:
        parse(provider, fixture("cbr_antibot.html"), content_type=content_type)

    message = str(raised.value)
    assert "sent an HTML page" in message
    assert make_provider(provider).title.split(" (")[0] in message


@pytest.mark.parametrize(
    ("provider", "name"), [("nbt", "nbt.xml"), ("nbk", "nbk.xml"), ("cbu", "cbu.json")]
)
def test_data_served_as_text_html_still_parses(provider, name):
    assert parse(provider, fixture(name), content_type="text/html; charset=UTF-8")


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_empty_answer_is_an_error(provider):
    with pytest.raises(ProviderError, match="sent an empty answer"):
        parse(provider, fixture("empty.txt"))


@pytest.mark.parametrize(
    ("provider", "content", "message"),
    [
        ("nbk", fixture("nbk.xml")[:300], "malformed XML"),
        ("nbkr", fixture("nbkr_daily.xml")[:150], "malformed XML"),
        ("cbr", fixture("cbr.xml")[:400], "malformed XML"),
        ("nbt", b"<?xml version='1.0'?><ValCurs Date='2026-11-25'><Valute>", "malformed XML"),
        ("cbu", fixture("cbu.json")[:120], "malformed JSON"),
        ("frankfurter", fixture("frankfurter.json")[:90], "malformed JSON"),
        ("cbu", b'{"error": "rate limit"}', "not a list"),
        ("nbk", fixture("nbt.xml"), "<ValCurs> where <rates> was expected"),
    ],
)
def test_malformed_or_foreign_payload_is_an_error(provider, content, message):
    with pytest.raises(ProviderError, match=message):
        parse(provider, content)


@pytest.mark.parametrize(
    ("provider", "name", "old", "new"),
    [
        ("nbk", "nbk.xml", b"<date>25.11.2026</date>", b""),
        ("nbkr", "nbkr_daily.xml", b' Date="26.11.2026"', b""),
        ("cbu", "cbu.json", b'"Date": "25.11.2026"', b'"Date": ""'),
        ("nbt", "nbt.xml", b' Date="2026-11-25"', b""),
        ("cbr", "cbr.xml", b' Date="25.11.2026"', b""),
        ("frankfurter", "frankfurter.json", b'"date": "2026-11-25"', b'"date": null'),
    ],
)
def test_payload_without_a_date_is_an_error(provider, name, old, new):
    with pytest.raises(ProviderError, match="states no date"):
        parse(provider, edited(name, old, new))


@pytest.mark.parametrize(
    ("provider", "name", "old", "new"),
    [
        ("nbk", "nbk.xml", b"<title>USD</title>", b"<title>XDR</title>"),
        ("nbkr", "nbkr_daily.xml", b'ISOCode="USD"', b'ISOCode="XDR"'),
        ("cbu", "cbu.json", b'"Ccy": "USD"', b'"Ccy": "XDR"'),
        ("nbt", "nbt.xml", b"<CharCode>USD</CharCode>", b"<CharCode>XDR</CharCode>"),
        ("cbr", "cbr.xml", b"<CharCode>USD</CharCode>", b"<CharCode>XDR</CharCode>"),
    ],
)
def test_payload_without_a_usd_row_is_an_error(provider, name, old, new):
    with pytest.raises(ProviderError, match="sent no USD rate"):
        parse(provider, edited(name, old, new))


@pytest.mark.parametrize(
    ("provider", "name", "old", "new"),
    [
        ("nbk", "nbk.xml", b">508.93<", b">0<"),
        ("nbkr", "nbkr_daily.xml", b">87,4215<", b">-87,4215<"),
        ("cbu", "cbu.json", b'"Rate": "12050.37"', b'"Rate": "0"'),
        ("nbt", "nbt.xml", b">9.3874<", b">0.0000<"),
        ("cbr", "cbr.xml", b">15,8156<", b">0,0000<"),
        ("cbr", "cbr.xml", b"<Nominal>100</Nominal>", b"<Nominal>0</Nominal>"),
        ("frankfurter", "frankfurter.json", b"509.41", b"-509.41"),
    ],
)
def test_non_positive_value_is_an_error(provider, name, old, new):
    with pytest.raises(ProviderError, match="is not a usable price"):
        parse(provider, edited(name, old, new))


@pytest.mark.parametrize(
    ("currency", "rate", "expected"),
    [
        ("KZT", "509.41", "0.00196305529927"),
        ("UZS", "12048.9", "0.0000829951281860"),
        ("EUR", "0.86314", "1.15856060431"),
        ("CNY", "7.1204", "0.140441548228"),
    ],
)
def test_frankfurter_gives_one_over_the_usd_rate(currency, rate, expected):
    obs = by_currency(parse("frankfurter", fixture("frankfurter.json")))[currency]

    assert (obs.base, obs.source, obs.as_of) == ("USD", "frankfurter", date(2026, 11, 25))
    assert obs.value == Decimal(expected)
    assert abs(obs.value * Decimal(rate) - 1) < Decimal("1e-10")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (fixture("frankfurter_error.json"), "Frankfurter answered with an error: invalid quote"),
        (b"[]", "Frankfurter sent no rates"),
        (b'[{"date": "2026-11-25", "base": "EUR", "quote": "KZT", "rate": 590.1}]', "per EUR"),
    ],
)
def test_frankfurter_error_or_empty_answer_is_an_error(content, message):
    with pytest.raises(ProviderError, match=message):
        parse("frankfurter", content)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("nbk", "https://nationalbank.kz/rss/get_rates.cfm?fdate=25.11.2026"),
        ("nbkr", "https://www.nbkr.kg/XML/daily.xml"),
        ("cbu", "https://cbu.uz/en/arkhiv-kursov-valyut/json/all/2026-11-25/"),
        ("nbt", "https://www.nbt.tj/en/kurs/export_xml.php?date=2026-11-25&export=xmlout"),
        ("cbr", "https://www.cbr.ru/scripts/XML_daily.asp?date_req=25/11/2026"),
        ("frankfurter", "https://api.frankfurter.dev/v2/rates?date=2026-11-25&base=USD"),
    ],
)
def test_url_for_a_day_on_the_real_site(provider, expected):
    assert make_provider(provider).url(ASKED) == expected


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_url_uses_the_configured_base_url(provider):
    url = make_provider(provider, "http://127.0.0.1:8123/mirror/").url(ASKED)

    assert url.startswith("http://127.0.0.1:8123/mirror/")
    assert "//" not in url.removeprefix("http://")


def test_frankfurter_url_asks_for_the_wanted_currencies_once_each():
    url = make_provider("frankfurter").url(ASKED, currencies=["kzt", "KGS", "USD", "KZT", "UZS"])

    assert url == (
        "https://api.frankfurter.dev/v2/rates?date=2026-11-25&base=USD&quotes=KZT,KGS,UZS"
    )


def test_other_providers_ignore_the_currencies_asked_for():
    assert make_provider("cbr").url(ASKED, currencies=["KZT"]) == make_provider("cbr").url(ASKED)


def test_unknown_provider_name_is_an_error_listing_the_known_ones():
    with pytest.raises(UnknownProviderError) as raised:
        make_provider("ecb")

    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert "unknown rates provider 'ecb'" in message
    assert all(name in message for name in PROVIDERS)


def test_every_provider_is_registered_with_a_default_site_and_title():
    assert set(PROVIDERS) == {"nbk", "nbkr", "cbu", "nbt", "cbtm-fixed", "cbr", "frankfurter"}
    assert set(DEFAULT_BASE_URLS) == set(PROVIDERS)
    for name, cls in PROVIDERS.items():
        assert cls.name == name
        assert cls.title
        assert bool(DEFAULT_BASE_URLS[name]) == cls.needs_http


def test_default_chains_start_at_the_home_bank_and_name_only_known_providers():
    assert DEFAULT_CHAINS == {
        "KZT": ["nbk", "cbr", "frankfurter"],
        "KGS": ["nbkr", "cbr", "frankfurter"],
        "UZS": ["cbu", "cbr", "frankfurter"],
        "TJS": ["nbt", "cbr", "frankfurter"],
        "TMT": ["cbtm-fixed"],
        "RUB": ["cbr", "frankfurter"],
        "EUR": ["cbr", "frankfurter"],
        "CNY": ["cbr", "frankfurter"],
    }
    assert {name for chain in DEFAULT_CHAINS.values() for name in chain} <= set(PROVIDERS)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("nbk", "National Bank of Kazakhstan"),
        ("nbkr", "National Bank of the Kyrgyz Republic"),
        ("cbu", "Central Bank of Uzbekistan"),
        ("nbt", "National Bank of Tajikistan"),
        ("cbtm-fixed", "Central Bank of Turkmenistan (official fixed rate)"),
        ("cbr", "Central Bank of Russia (cross rate)"),
        ("manual-entry", "manual-entry"),
    ],
)
def test_source_title_names_the_bank_or_returns_an_unknown_name_as_is(name, title):
    assert source_title(name) == title

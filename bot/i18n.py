"""Interface strings in the subscriber's language, from gettext catalogs shipped in bot/locales."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from digest.render import Presentation

DOMAIN = "newsdigest"
Translate = Callable[[str], str]


@lru_cache(maxsize=8)
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`, compiled in memory from its .po file; English needs none."""
    path = resources.files("bot").joinpath(f"locales/{language}/LC_MESSAGES/{DOMAIN}.po")
    if language == "en" or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translator(language: str) -> Translate:
    """A `_` function for one language."""
    return translations(language).gettext


def presentation(language: str, timezone: str) -> Presentation:
    """How a digest looks to one reader: their language, its catalog and their time zone."""
    return Presentation(language=language, tz=ZoneInfo(timezone), gettext=translator(language))

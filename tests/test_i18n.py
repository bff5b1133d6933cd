"""Every interface string is in the Russian catalog, with the same placeholders."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from bot.i18n import translator

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def source_messages() -> set[str]:
    found = set()
    for directory in ("bot", "digest"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory, keywords={"_": None, "N_": None}, method_map=[("**.py", "python")]
        ):
            if isinstance(message, str) and message:
                found.add(message)
    return found


def test_every_interface_string_has_a_russian_translation():
    _ = translator("ru")
    untranslated = sorted(m for m in source_messages() if _(m) == m)
    assert untranslated == []


def test_translations_keep_every_placeholder():
    _ = translator("ru")
    for message in source_messages():
        assert set(PLACEHOLDER.findall(_(message))) == set(PLACEHOLDER.findall(message)), message


def test_english_is_the_source_text_and_unknown_languages_fall_back_to_it():
    assert translator("en")("Which topic?") == "Which topic?"
    assert translator("de")("Which topic?") == "Which topic?"
    assert translator("ru")("Which topic?") == "Какая тема?"

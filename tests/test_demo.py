"""The offline demo: the scripted chat in both languages, and a person typing to the bot."""

from datetime import UTC, datetime

import pytest

from bot import demo
from digest.config import load_config
from digest.demo_data import load_sample
from storage.db import open_db


@pytest.fixture
def sample_db(tmp_path):
    config = load_config(env={})
    db = open_db(tmp_path / "demo.db")
    load_sample(db, config, datetime.now(UTC))
    return config, db


async def test_the_scripted_chat_in_russian_uses_russian_buttons(sample_db):
    config, db = sample_db
    chat = await demo.play(config, db, language_code="ru")
    assert "Aida pressed [Темы]" in chat
    assert "Aida pressed [Энергетика]" in chat
    assert "Ваши темы: Центральная Азия, Экономика и финансы, Энергетика" in chat
    assert "Готово: ваш часовой пояс — Asia/Tashkent" in chat
    assert "bot: Дайджест: Центральная Азия\n" in chat  # the digest's title in Russian too
    assert "Курсы (стоимость одной единицы в USD" in chat


async def test_a_person_can_type_and_press_numbered_buttons(sample_db):
    config, db = sample_db
    typed = iter(["/start", "1", "2", "/frobnicate", "/quit", "never read"])
    shown: list[str] = []
    await demo.interactive(config, db, lambda prompt: next(typed), shown.append)
    output = "\n".join(shown)
    assert "You pressed [Topics]" in output
    assert "You pressed [Kyrgyzstan]" in output  # button 2 of the topics keyboard
    assert "  1: Kazakhstan" in output
    assert "I don't know /frobnicate" in output
    assert next(typed) == "never read"  # /quit ended the session

"""A local Telegram Bot API emulator: python-telegram-bot talks HTTP to it as to Telegram.

with BotAPIEmulator() as emulator:
    app = ApplicationBuilder().token(emulator.token).base_url(emulator.base_url).build()
    chat = emulator.add_user(42, "Aida")
    emulator.user_sends(chat, "/start")
    ...
    print(emulator.transcript_text(chat))
"""

from bot.emulator.core import BotAPIEmulator
from bot.emulator.records import EmulatorStats, SentMessage, TranscriptEntry

__all__ = ["BotAPIEmulator", "EmulatorStats", "SentMessage", "TranscriptEntry"]

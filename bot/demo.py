"""The offline demo: the real bot against the local emulator, a scripted chat, its transcript."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlite_utils import Database
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.app import build_application, start_bot, stop_bot
from bot.emulator import BotAPIEmulator
from digest.config import Config

DEMO_USER = 1001


@dataclass(frozen=True)
class Step:
    """One thing the demo user does: type `text`, or press the button whose data is `press`.

    Buttons are named by their callback data, which is the same in every language.
    """

    text: str | None = None
    press: str | None = None


SCRIPT = (
    Step(text="/start"),
    Step(press="m:topics"),
    Step(press="t:energy"),
    Step(press="t-done"),
    Step(text="/rates"),
    Step(text="/rates KZT"),
    Step(text="/news migration"),
    Step(text="/digest"),
    Step(text="/time 07:30"),
    Step(text="/timezone"),
    Step(press="tz:Asia/Tashkent"),
    Step(text="/settings"),
)


class Progress:
    """Counts updates the bot has finished handling (a handler in a later group sees each last)."""

    def __init__(self, application: Application) -> None:
        self.handled = 0
        application.add_handler(TypeHandler(Update, self._done), group=1)

    async def _done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.handled += 1

    async def wait(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.handled < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


def _last_button_message(emulator: BotAPIEmulator, chat_id: int, data: str) -> int:
    for message in reversed(emulator.sent(chat_id)):
        if any(value == data for row in message.buttons for _, value in row):
            return message.message_id
    raise LookupError(f"no message has that button ({data})")


async def act(emulator: BotAPIEmulator, progress: Progress, chat_id: int, step: Step) -> None:
    """Do one step and wait until the bot has handled it."""
    expected = progress.handled + 1
    if step.text is not None:
        emulator.user_sends(chat_id, step.text)
    else:
        message_id = _last_button_message(emulator, chat_id, step.press)
        emulator.user_presses(chat_id, message_id, step.press)
    await progress.wait(expected)


@asynccontextmanager
async def running_bot(
    config: Config, db: Database, user_name: str, language_code: str
) -> AsyncIterator[tuple[BotAPIEmulator, Progress]]:
    """The emulator with one user, and the real bot polling it; both stopped afterwards."""
    with BotAPIEmulator() as emulator:
        emulator.add_user(DEMO_USER, user_name, language_code=language_code)
        application = build_application(
            config, db, emulator.token, api_url=emulator.base_url.removesuffix("/bot")
        )
        progress = Progress(application)
        await start_bot(application, poll_timeout=1)
        try:
            yield emulator, progress
        finally:
            await stop_bot(application)


async def play(
    config: Config,
    db: Database,
    *,
    steps: tuple[Step, ...] = SCRIPT,
    language_code: str = "en",
    on_step: Callable[[str], None] | None = None,
) -> str:
    """Run the scripted conversation; returns the transcript as a chat log."""
    async with running_bot(config, db, "Aida", language_code) as (emulator, progress):
        for step in steps:
            if on_step:
                on_step(step.text or f"[{step.press}]")
            await act(emulator, progress, DEMO_USER, step)
        return emulator.transcript_text(DEMO_USER)


async def interactive(
    config: Config,
    db: Database,
    read: Callable[[str], str],
    write: Callable[[str], None],
    language_code: str = "en",
) -> None:
    """A person types to the bot; a number presses that button of the bot's last keyboard."""
    async with running_bot(config, db, "You", language_code) as (emulator, progress):
        shown = 0
        write(
            "Type to the bot (/help for its commands, a number to press a button, /quit to leave)."
        )
        while True:
            try:
                line = (await asyncio.to_thread(read, "you> ")).strip()
            except EOFError:
                break
            if line in ("/quit", "/exit"):
                break
            if not line:
                continue
            buttons = _latest_buttons(emulator)
            if line.isdigit() and buttons and 1 <= int(line) <= len(buttons):
                step = Step(press=buttons[int(line) - 1][1])
            else:
                step = Step(text=line)
            try:
                await act(emulator, progress, DEMO_USER, step)
            except LookupError as exc:
                write(str(exc))
            log = emulator.transcript_text(DEMO_USER).splitlines()
            write("\n".join(log[shown:]))
            shown = len(log)
            for number, (label, _) in enumerate(_latest_buttons(emulator), start=1):
                write(f"  {number}: {label}")


def _latest_buttons(emulator: BotAPIEmulator) -> list[tuple[str, str]]:
    """(label, data) of the buttons of the bot's latest message that has any, in reading order."""
    for message in reversed(emulator.sent(DEMO_USER)):
        buttons = [(text, data) for row in message.buttons for text, data in row if data]
        if buttons:
            return buttons
    return []

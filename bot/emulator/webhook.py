"""Webhook delivery: pending updates POSTed as JSON, one at a time, retried a few times."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from bot.emulator.state import EmulatorState, Webhook

# No proxy from the environment: the bot's webhook is local, like the emulator.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebhookSender(threading.Thread):
    """Delivers updates while a webhook is set; an update the bot keeps refusing is dropped after
    `attempts` tries, and getWebhookInfo shows the last error."""

    def __init__(self, state: EmulatorState, *, attempts: int = 3, backoff: float = 0.1) -> None:
        super().__init__(name="bot-api-emulator-webhook", daemon=True)
        self.state = state
        self.attempts = attempts
        self.backoff = backoff

    def run(self) -> None:
        state, failures = self.state, 0
        while True:
            with state.cond:
                state.cond.wait_for(lambda: state.stopping or bool(state.webhook and state.updates))
                if state.stopping:
                    return
                hook, update = state.webhook, state.updates[0]
            assert hook is not None
            error = _post(hook, update)
            with state.cond:
                if state.stopping:
                    return
                if not state.updates or state.updates[0] is not update:
                    continue  # dropped meanwhile (deleteWebhook with drop_pending_updates)
                if error is None:
                    state.updates.pop(0)
                    failures = 0
                    continue
                failures += 1
                hook.last_error_date, hook.last_error_message = int(time.time()), error
                if failures >= self.attempts:
                    state.updates.pop(0)
                    failures = 0
                else:
                    state.cond.wait(self.backoff * 2 ** (failures - 1))


def _post(hook: Webhook, update: dict[str, Any]) -> str | None:
    """POST one update; None when the bot answered 2xx, else what went wrong."""
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
    request = urllib.request.Request(
        hook.url, data=json.dumps(update).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=5) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"Wrong response from the webhook: {exc.code} {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"Connection failed: {exc}"
    return None

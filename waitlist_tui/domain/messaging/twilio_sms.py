"""SMS through Twilio, with the official `twilio` package: the transport, its errors sorted
into retryable and permanent, a send-rate limit per clinic, and the clinic's `[messages.sms]`
settings. The auth token is never in a file nor in the database: the settings name the
environment variable that holds it (TWILIO_AUTH_TOKEN by default).

    [messages.sms]
    provider = "twilio"
    account_sid = "AC..."                 # or TWILIO_ACCOUNT_SID
    from = "+15550100"                    # or messaging_service_sid = "MG..."
    auth_token_env = "TWILIO_AUTH_TOKEN"  # the variable's NAME; the token is read from it
    max_per_minute = 60                   # this clinic's texts per minute (0: no limit)

The environment alone also works (WAITLIST_SMS_TRANSPORT=twilio, TWILIO_ACCOUNT_SID,
TWILIO_AUTH_TOKEN, TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID, WAITLIST_PUBLIC_URL for the
status callback); a clinic's settings file wins over it for that clinic's texts.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging.transports import Outgoing, TransportError

PROVIDERS = ("twilio", "vonage")  # vonage: checked by vonage_sms.py
DEFAULT_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
DEFAULT_MAX_PER_MINUTE = 60
STATUS_PATH = "/sms/twilio/status"
INBOUND_PATH = "/sms/twilio/inbound"
SETTINGS_KEYS = {
    "provider",
    "account_sid",
    "from",
    "messaging_service_sid",
    "auth_token_env",
    "max_per_minute",
}
# Twilio's error codes after which sending the same message again cannot succeed.
PERMANENT_CODES = {
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21408,  # region not enabled
    21606,  # 'From' number cannot send this message
    21610,  # the recipient replied STOP (unsubscribed)
    21612,  # cannot route to this number
    21614,  # 'To' is not a mobile number
    21617,  # body too long
    30003,
    30004,
    30005,
    30006,
    30007,  # unreachable, blocked, unknown, landline, filtered
}
_SID = re.compile(r"^(AC|MG)[0-9a-fA-F]{32}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def check_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """The `[messages.sms]` table, checked; what is kept in clinic.settings (no secret)."""
    where = "messages.sms"
    for key in section:
        if key == "auth_token":
            raise ValidationError(
                f"{where}.auth_token: the token may not be written in a file; put it in an "
                "environment variable and name that variable in auth_token_env",
                field=f"{where}.auth_token",
            )
        if key not in SETTINGS_KEYS:
            raise ValidationError(
                f"{where}.{key} is not a setting ({', '.join(sorted(SETTINGS_KEYS))})",
                field=f"{where}.{key}",
            )
    provider = str(section.get("provider", "twilio"))
    if provider not in PROVIDERS:
        raise ValidationError(
            f"{where}.provider must be one of {', '.join(PROVIDERS)}, got {provider!r}",
            field=f"{where}.provider",
        )
    out: dict[str, Any] = {"provider": provider}
    for key, prefix in (("account_sid", "AC"), ("messaging_service_sid", "MG")):
        value = section.get(key)
        if value is not None:
            if not isinstance(value, str) or not _SID.match(value) or value[:2] != prefix:
                raise ValidationError(
                    f"{where}.{key} must be {prefix} and 32 hex digits", field=f"{where}.{key}"
                )
            out[key] = value
    sender = section.get("from")
    if sender is not None:
        if not isinstance(sender, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", sender):
            raise ValidationError(
                f"{where}.from must be an E.164 number like +15550100", field=f"{where}.from"
            )
        out["from"] = sender
    env_name = section.get("auth_token_env", DEFAULT_TOKEN_ENV)
    if not isinstance(env_name, str) or not _ENV_NAME.match(env_name):
        raise ValidationError(
            f"{where}.auth_token_env must name an environment variable (A-Z, 0-9, _)",
            field=f"{where}.auth_token_env",
        )
    out["auth_token_env"] = env_name
    rate = section.get("max_per_minute", DEFAULT_MAX_PER_MINUTE)
    if not isinstance(rate, int) or isinstance(rate, bool) or not 0 <= rate <= 6000:
        raise ValidationError(
            f"{where}.max_per_minute must be a whole number from 0 to 6000",
            field=f"{where}.max_per_minute",
        )
    out["max_per_minute"] = rate
    return out


def classify(status: int | None, code: int | None) -> bool:
    """True when the error is permanent (the outbox gives up), False when a retry may work:
    429, 5xx, and no answer at all (a timeout, a refused connection) are retried, and so is
    401 (the clinic's credentials are wrong: once fixed, the waiting texts go)."""
    if code in PERMANENT_CODES:
        return True
    if status is None or status in (401, 408, 409, 425, 429) or status >= 500:
        return False
    return 400 <= status < 500


@dataclass
class RateLimit:
    """At most `per_minute` sends per clinic, spaced evenly: a send waits for its turn
    (delivery runs one send at a time, so the wait is short: 1 s at 60 a minute)."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    _next: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, clinic: str, per_minute: int) -> float:
        if per_minute <= 0:
            return 0.0
        gap = 60.0 / per_minute
        with self._lock:
            now = self.monotonic()
            turn = max(now, self._next.get(clinic, now))
            self._next[clinic] = turn + gap
        delay = turn - now
        if delay > 0:
            self.sleep(delay)
        return delay


@dataclass
class TwilioTransport:
    """Sends through Twilio's Messages API. `env` holds the token (read at send time, never
    kept on the object); `settings` are the environment's defaults, a clinic's
    `[messages.sms]` (on the Outgoing) wins. `base_url`: tests point it at a local server."""

    env: Mapping[str, str] = field(repr=False)  # holds the token: never in a repr
    public_url: str = ""
    timeout: float = 10.0
    base_url: str | None = None
    rate: RateLimit = field(default_factory=RateLimit)
    name: str = "twilio"
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def _config(self, message: Outgoing) -> dict[str, Any]:
        env = self.env
        config: dict[str, Any] = {
            "account_sid": env.get("TWILIO_ACCOUNT_SID") or None,
            "from": env.get("TWILIO_FROM") or None,
            "messaging_service_sid": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            "auth_token_env": DEFAULT_TOKEN_ENV,
            "max_per_minute": DEFAULT_MAX_PER_MINUTE,
        }
        config.update({k: v for k, v in (message.sms or {}).items() if v is not None})
        return config

    def _client(self, sid: str, token: str) -> Any:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        client = self._clients.get((sid, token))
        if client is None:
            http = TwilioHttpClient(timeout=self.timeout, max_retries=None)
            http.logger.setLevel(logging.WARNING)  # its INFO lines list the request
            client = Client(sid, token, http_client=http)
            if self.base_url:
                client.api.base_url = self.base_url
            self._clients = {(sid, token): client}  # one at a time: the token may rotate
        return client

    def send(self, message: Outgoing) -> str:
        if message.channel != "sms":
            raise TransportError("twilio sends sms only", permanent=True)
        provider = (message.sms or {}).get("provider", "twilio")
        if provider != "twilio":
            raise TransportError(f"twilio: this clinic's texts are set up for {provider}")
        config = self._config(message)
        sid = config.get("account_sid")
        token_env = str(config["auth_token_env"])
        token = self.env.get(token_env)
        if not sid or not token:
            missing = "account SID" if not sid else f"auth token (${token_env})"
            raise TransportError(f"twilio: no {missing} configured", permanent=False)
        if not config.get("from") and not config.get("messaging_service_sid"):
            raise TransportError("twilio: no from number nor messaging service SID")
        self.rate.wait(message.clinic or "-", int(config["max_per_minute"]))
        args: dict[str, Any] = {"to": message.recipient, "body": message.body}
        if config.get("messaging_service_sid"):
            args["messaging_service_sid"] = config["messaging_service_sid"]
        else:
            args["from_"] = config["from"]
        if self.public_url:
            args["status_callback"] = status_callback(self.public_url, message.clinic)
        return _create(self._client(sid, token), args)


def status_callback(public_url: str, clinic: str) -> str:
    """Where Twilio reports a text's progress: the clinic named, so that the server checks
    the signature with that clinic's token."""
    query = f"?{urlencode({'clinic': clinic})}" if clinic else ""
    return public_url.rstrip("/") + STATUS_PATH + query


def _create(client: Any, args: dict[str, Any]) -> str:
    import requests
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        created = client.messages.create(**args)
    except TwilioRestException as exc:
        permanent = classify(exc.status, exc.code)
        raise TransportError(
            f"twilio HTTP {exc.status} error {exc.code}: {exc.msg}", permanent=permanent
        ) from None
    except (requests.RequestException, OSError) as exc:
        raise TransportError(f"twilio: {type(exc).__name__} (no answer)") from None
    except TwilioException as exc:
        raise TransportError(f"twilio: {exc}") from None
    return str(created.sid)


def from_env(env: Mapping[str, str]) -> TwilioTransport:
    try:
        timeout = float(env.get("TWILIO_TIMEOUT", 10))
    except ValueError:
        raise ValidationError("TWILIO_TIMEOUT must be a number", field="TWILIO_TIMEOUT") from None
    public = env.get("WAITLIST_PUBLIC_URL", "")
    if public and not public.startswith(("http://", "https://")):
        raise ValidationError(
            "WAITLIST_PUBLIC_URL must be an http(s) URL", field="WAITLIST_PUBLIC_URL"
        )
    return TwilioTransport(env=env, public_url=public, timeout=timeout)

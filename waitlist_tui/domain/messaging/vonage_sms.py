"""SMS through Vonage's SMS API, with the official `vonage` package, on the same seam as
Twilio (twilio_sms.py): credentials from the clinic's `[messages.sms]` or the environment (the
secrets only ever from the environment), Vonage's message-id kept on the outbox row, its
errors sorted into retryable and permanent, the per-clinic send-rate limit; and the checks for
Vonage's signed webhooks (the `sig` parameter, the library's own Auth.check_signature).

    [messages.sms]
    provider = "vonage"
    api_key = "abcd1234"                               # or VONAGE_API_KEY
    from = "+447700900000"                             # or an alphanumeric sender, or VONAGE_FROM
    api_secret_env = "VONAGE_API_SECRET"               # the variable's NAME, never the secret
    signature_secret_env = "VONAGE_SIGNATURE_SECRET"   # signs the inbound/receipt webhooks
    signature_method = "sha256"                        # md5, sha1, sha256 or sha512 (HMAC)
    max_per_minute = 60

The environment alone also works: WAITLIST_SMS_TRANSPORT=vonage, VONAGE_API_KEY,
VONAGE_API_SECRET, VONAGE_FROM, VONAGE_SIGNATURE_SECRET, WAITLIST_PUBLIC_URL (the receipt
callback). VONAGE_REST_HOST points the client at another host (the library speaks HTTPS only;
tests run a local TLS stand-in and trust it through REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import sms_fit
from waitlist_tui.domain.messaging.transports import Outgoing, TransportError
from waitlist_tui.domain.messaging.twilio_sms import DEFAULT_MAX_PER_MINUTE, RateLimit

PROVIDER = "vonage"
DEFAULT_SECRET_ENV = "VONAGE_API_SECRET"
DEFAULT_SIGNATURE_ENV = "VONAGE_SIGNATURE_SECRET"
DEFAULT_METHOD = "sha256"
METHODS = ("md5", "sha1", "sha256", "sha512")
INBOUND_PATH = "/sms/vonage/inbound"
STATUS_PATH = "/sms/vonage/status"
CALLBACK_MAX = 100  # the SMS API refuses a longer `callback`
SIGNATURE_MAX_AGE = dt.timedelta(minutes=5)  # an older signed webhook is a replay
SETTINGS_KEYS = {
    "provider",
    "api_key",
    "from",
    "api_secret_env",
    "signature_secret_env",
    "signature_method",
    "max_per_minute",
}
# The SMS API's `status` codes after which sending again can help: throttled (1), bad
# credentials or signature (4, 14: once fixed the waiting texts go), internal error (5),
# out of credit (9), too many binds (10). Every other code refuses this message for good
# (2 missing and 3 invalid parameters, 6 unroutable, 7 barred number, 12 too long, 15
# invalid sender, 29 non-whitelisted destination, 33 deactivated number...).
RETRYABLE_CODES = {1, 4, 5, 9, 10, 14}
# Vonage's delivery-receipt statuses in the words receipts.py ranks
STATUS_WORDS = {
    "accepted": "sent",
    "buffered": "sending",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
_API_KEY = re.compile(r"^[0-9A-Za-z]{6,32}$")
_SENDER = re.compile(r"^(\+?[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$")
_CODE = re.compile(r"error code (\d+)")


def check_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """`[messages.sms]` for provider = "vonage", checked; what clinic.settings keeps."""
    where = "messages.sms"
    for key in section:
        if key in ("api_secret", "signature_secret"):
            raise ValidationError(
                f"{where}.{key}: a secret may not be written in a file; put it in an "
                f"environment variable and name that variable in {key}_env",
                field=f"{where}.{key}",
            )
        if key not in SETTINGS_KEYS:
            raise ValidationError(
                f"{where}.{key} is not a Vonage setting ({', '.join(sorted(SETTINGS_KEYS))})",
                field=f"{where}.{key}",
            )
    out: dict[str, Any] = {"provider": PROVIDER}
    api_key = section.get("api_key")
    if api_key is not None:
        if not isinstance(api_key, str) or not _API_KEY.match(api_key):
            raise ValidationError(
                f"{where}.api_key must be Vonage's API key (6 to 32 letters and digits)",
                field=f"{where}.api_key",
            )
        out["api_key"] = api_key
    sender = section.get("from")
    if sender is not None:
        if not isinstance(sender, str) or not _SENDER.match(sender):
            raise ValidationError(
                f"{where}.from must be an E.164 number like +447700900000 or a sender name "
                "of at most 11 letters and digits",
                field=f"{where}.from",
            )
        out["from"] = sender
    for name, default in (
        ("api_secret_env", DEFAULT_SECRET_ENV),
        ("signature_secret_env", DEFAULT_SIGNATURE_ENV),
    ):
        env_name = section.get(name, default)
        if not isinstance(env_name, str) or not _ENV_NAME.match(env_name):
            raise ValidationError(
                f"{where}.{name} must name an environment variable (A-Z, 0-9, _)",
                field=f"{where}.{name}",
            )
        out[name] = env_name
    method = section.get("signature_method", DEFAULT_METHOD)
    if method not in METHODS:
        raise ValidationError(
            f"{where}.signature_method must be one of {', '.join(METHODS)}",
            field=f"{where}.signature_method",
        )
    out["signature_method"] = method
    rate = section.get("max_per_minute", DEFAULT_MAX_PER_MINUTE)
    if not isinstance(rate, int) or isinstance(rate, bool) or not 0 <= rate <= 6000:
        raise ValidationError(
            f"{where}.max_per_minute must be a whole number from 0 to 6000",
            field=f"{where}.max_per_minute",
        )
    out["max_per_minute"] = rate
    return out


def classify(status: int | None, code: int | None) -> bool:
    """True when the error is permanent (the outbox gives up). `status`: the HTTP status
    (None: no answer at all); `code`: the SMS API's own status code in a 200 answer."""
    if code is not None:
        return code not in RETRYABLE_CODES
    if status is None or status in (401, 408, 409, 425, 429) or status >= 500:
        return False
    return 400 <= status < 500


def config_for(env: Mapping[str, str], sms: Mapping[str, Any] | None) -> dict[str, Any]:
    """The environment's defaults with the clinic's `[messages.sms]` over them."""
    config: dict[str, Any] = {
        "api_key": env.get("VONAGE_API_KEY") or None,
        "from": env.get("VONAGE_FROM") or None,
        "api_secret_env": DEFAULT_SECRET_ENV,
        "signature_secret_env": DEFAULT_SIGNATURE_ENV,
        "signature_method": DEFAULT_METHOD,
        "max_per_minute": DEFAULT_MAX_PER_MINUTE,
    }
    if sms and sms.get("provider", PROVIDER) == PROVIDER:
        config.update({k: v for k, v in sms.items() if v is not None})
    return config


@dataclass
class VonageTransport:
    """Sends through Vonage's SMS API (`vonage.Vonage(...).sms.send`). `env` holds the
    secrets (read at send time, never kept on the object); a clinic's `[messages.sms]` (on
    the Outgoing) wins over the environment. `rest_host`: tests point it at a local server."""

    env: Mapping[str, str] = field(repr=False)  # holds the secret: never in a repr
    public_url: str = ""
    timeout: int = 10
    rest_host: str | None = None
    rate: RateLimit = field(default_factory=RateLimit)
    name: str = PROVIDER
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def _client(self, key: str, secret: str) -> Any:
        from vonage import Auth, HttpClientOptions, Vonage

        # the library's DEBUG lines print the request headers (basic auth) and its body
        logging.getLogger("vonage").setLevel(logging.WARNING)
        client = self._clients.get((key, secret))
        if client is None:
            options: dict[str, Any] = {"timeout": self.timeout, "max_retries": 0}
            if self.rest_host:
                options["rest_host"] = self.rest_host
            client = Vonage(Auth(api_key=key, api_secret=secret), HttpClientOptions(**options))
            self._clients = {(key, secret): client}  # one at a time: the secret may rotate
        return client

    def send(self, message: Outgoing) -> str:
        if message.channel != "sms":
            raise TransportError("vonage sends sms only", permanent=True)
        provider = (message.sms or {}).get("provider", PROVIDER)
        if provider != PROVIDER:
            raise TransportError(f"vonage: this clinic's texts are set up for {provider}")
        config = config_for(self.env, message.sms)
        key = config.get("api_key")
        secret_env = str(config["api_secret_env"])
        secret = self.env.get(secret_env)
        if not key or not secret:
            missing = "API key" if not key else f"API secret (${secret_env})"
            raise TransportError(f"vonage: no {missing} configured", permanent=False)
        if not config.get("from"):
            raise TransportError("vonage: no from number or sender name configured")
        self.rate.wait(message.clinic or "-", int(config["max_per_minute"]))
        args: dict[str, Any] = {
            "to": message.recipient.lstrip("+"),
            "from_": str(config["from"]).lstrip("+"),
            "text": message.body,
            "client_ref": message.key[:100],
        }
        if sms_fit.fit(message.body).encoding == sms_fit.UCS2:
            args["type"] = "unicode"  # else Vonage garbles what GSM-7 cannot carry
        callback = status_callback(self.public_url, message.clinic) if self.public_url else ""
        if callback and len(callback) <= CALLBACK_MAX:
            args["callback"] = callback  # (the library would send status-report-req as "True")
        return _send(self._client(key, secret), args)


def status_callback(public_url: str, clinic: str) -> str:
    """Where Vonage sends a text's delivery receipt; the clinic named, for its secret."""
    query = f"?{urlencode({'clinic': clinic})}" if clinic else ""
    return public_url.rstrip("/") + STATUS_PATH + query


def _send(client: Any, args: dict[str, Any]) -> str:
    import requests
    from vonage_http_client.errors import HttpRequestError
    from vonage_sms import SmsError, SmsMessage
    from vonage_utils.errors import VonageError

    try:
        response = client.sms.send(SmsMessage(**args))
    except SmsError as exc:  # a 200 answer whose message carries a non-zero status
        found = _CODE.search(str(exc))
        code = int(found.group(1)) if found else None
        raise TransportError(
            f"vonage error {code if code is not None else '?'}: {_reason(str(exc))}",
            permanent=classify(200, code),
        ) from None
    except HttpRequestError as exc:
        status = exc.response.status_code
        raise TransportError(f"vonage HTTP {status}", permanent=classify(status, None)) from None
    except (requests.RequestException, OSError) as exc:
        raise TransportError(f"vonage: {type(exc).__name__} (no answer)") from None
    except VonageError as exc:
        raise TransportError(f"vonage: {type(exc).__name__}") from None
    found_id = response.messages[0].message_id if response.messages else None
    if not found_id:
        raise TransportError("vonage: the answer carries no message-id")
    return str(found_id)


def _reason(text: str) -> str:
    """The error text after the code, short (it names no number nor secret)."""
    return text.partition(": ")[2][:120] or "refused"


def from_env(env: Mapping[str, str]) -> VonageTransport:
    try:
        timeout = int(float(env.get("VONAGE_TIMEOUT", 10)))
    except ValueError:
        raise ValidationError("VONAGE_TIMEOUT must be a number", field="VONAGE_TIMEOUT") from None
    public = env.get("WAITLIST_PUBLIC_URL", "")
    if public and not public.startswith(("http://", "https://")):
        raise ValidationError(
            "WAITLIST_PUBLIC_URL must be an http(s) URL", field="WAITLIST_PUBLIC_URL"
        )
    host = env.get("VONAGE_REST_HOST") or None
    return VonageTransport(env=env, public_url=public, timeout=timeout, rest_host=host)


def signature_ok(
    params: Mapping[str, Any],
    secret: str,
    method: str,
    api_key: str | None,
    now: dt.datetime,
) -> bool:
    """Whether Vonage signed these webhook parameters with this secret (its `sig`, checked
    by the library's Auth.check_signature), for this account, not long ago (an old signed
    request replayed is refused)."""
    from vonage import Auth

    if not secret or not params.get("sig") or method not in METHODS:
        return False
    if api_key and params.get("api-key") not in (None, api_key):
        return False
    try:
        stamp = int(str(params.get("timestamp", "")))
    except ValueError:
        return False
    age = now - dt.datetime.fromtimestamp(stamp, dt.UTC)
    if abs(age) > SIGNATURE_MAX_AGE:
        return False
    auth = Auth(api_key=api_key or "webhook", signature_secret=secret, signature_method=method)
    return bool(auth.check_signature(dict(params)))


def inbound_fields(params: Mapping[str, Any]) -> dict[str, str]:
    """Vonage's inbound-SMS parameters in the names the reply handler takes."""
    sender = str(params.get("msisdn", "")).strip()
    return {
        "From": ("+" + sender.lstrip("+")) if sender else "",
        "Body": str(params.get("text", "")),
        "MessageSid": str(params.get("messageId", "")),
    }


def receipt_fields(params: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(message id, status in receipts.py's words, error code or None) of a receipt."""
    status = STATUS_WORDS.get(str(params.get("status", "")).lower(), "")
    code = str(params.get("err-code", "") or "").strip()
    return str(params.get("messageId", "")), status, (None if code in ("", "0") else code)

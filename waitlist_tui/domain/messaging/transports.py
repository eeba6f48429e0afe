"""How a message leaves the building: `file` (append a JSON line, for desks without a gateway),
`smtp` (smtplib, STARTTLS or implicit TLS on 465, credentials from the environment),
`webhook` (HTTP POST of JSON to an SMS gateway, with the idempotency key as a header) and
`twilio` (twilio_sms.py) and `vonage` (vonage_sms.py).

Every transport carries the idempotency key to the other side (the JSON line, the email's
Message-ID and Idempotency-Key header, the webhook's Idempotency-Key header), so a message sent
again after a crash can be recognised there as the same one.

Configuration comes from the environment (README, "Messages"): WAITLIST_SMS_TRANSPORT and
WAITLIST_EMAIL_TRANSPORT choose; WAITLIST_OUTBOX_FILE, WAITLIST_SMTP_* and WAITLIST_WEBHOOK_*
configure them.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.private_files import open_private

SMS_TRANSPORTS = ("file", "webhook", "twilio", "vonage")
EMAIL_TRANSPORTS = ("file", "smtp", "webhook")


class TransportError(Exception):
    """The message did not go. `permanent`: trying again will not help (a rejected address)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    key: str
    channel: str
    recipient: str
    subject: str
    body: str
    clinic: str = ""  # the clinic's code: a provider's send-rate limit counts per clinic
    sms: Mapping[str, Any] | None = None  # the clinic's [messages.sms] settings (no secret)


class Transport(Protocol):
    name: str

    def send(self, message: Outgoing) -> str:
        """Send it; return the provider's message id. Raise TransportError when it did not go."""
        ...


@dataclass
class FileTransport:
    """Appends each message as one JSON line; the desk (or a script) reads the file."""

    path: Path
    name: str = "file"

    def send(self, message: Outgoing) -> str:
        line = json.dumps(
            {
                "idempotency_key": message.key,
                "channel": message.channel,
                "to": message.recipient,
                "subject": message.subject,
                "body": message.body,
            },
            ensure_ascii=False,
        )
        try:
            with open_private(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise TransportError(f"cannot append to {self.path}: {exc.strerror}") from exc
        return f"file:{message.key}"


def message_id(key: str) -> str:
    """The email's Message-ID, made from the idempotency key: the same key, the same id."""
    return "<" + re.sub(r"[^A-Za-z0-9.-]", ".", key) + "@waitlist-tui>"


@dataclass
class SmtpTransport:
    host: str
    port: int = 587
    sender: str = "waitlist@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 10.0
    cafile: str | None = None
    name: str = "smtp"
    implicit_tls: bool = False  # TLS from the first byte (SMTPS, port 465): no STARTTLS

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=self.cafile)
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Outgoing) -> str:
        if message.channel != "email":
            raise TransportError("smtp sends email only", permanent=True)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = message_id(message.key)
        mail["Idempotency-Key"] = message.key
        mail.set_content(message.body)
        try:
            with self._connect() as smtp:
                smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else error
            raise TransportError(
                f"smtp {exc.smtp_code}: {text}", permanent=500 <= exc.smtp_code < 600
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"smtp: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise TransportError(f"recipient refused: {refused}", permanent=True)
        return message_id(message.key)


@dataclass
class WebhookTransport:
    url: str
    token: str | None = None
    timeout: float = 10.0
    name: str = "webhook"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def send(self, message: Outgoing) -> str:
        payload = json.dumps(
            {
                "idempotency_key": message.key,
                "channel": message.channel,
                "to": message.recipient,
                "subject": message.subject,
                "body": message.body,
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            **self.extra_headers,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, payload, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            # 4xx but 408 and 429: the gateway refuses this message; retrying will not help.
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429)
            raise TransportError(f"webhook HTTP {exc.code}", permanent=permanent) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"webhook: {type(exc).__name__}: {reason}") from exc
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        found = body.get("id") or body.get("message_id") if isinstance(body, dict) else None
        return str(found or message.key)


@dataclass(frozen=True)
class Transports:
    """The transport for each channel."""

    sms: Transport
    email: Transport

    def for_channel(self, channel: str) -> Transport:
        return self.sms if channel == "sms" else self.email


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    try:
        return float(env.get(key, default))
    except ValueError:
        raise ValidationError(f"{key} must be a number", field=key) from None


def _implicit_tls(env: Mapping[str, str]) -> bool:
    """WAITLIST_SMTP_TLS: `implicit` (SMTPS) or `starttls`; unset, port 465 means implicit."""
    mode = (env.get("WAITLIST_SMTP_TLS") or "").strip().lower()
    if mode not in ("", "implicit", "starttls"):
        raise ValidationError(
            "WAITLIST_SMTP_TLS must be implicit or starttls", field="WAITLIST_SMTP_TLS"
        )
    return mode == "implicit" or (not mode and str(env.get("WAITLIST_SMTP_PORT")) == "465")


def build(kind: str, env: Mapping[str, str], default_file: Path, channel: str) -> Transport:
    if kind == "file":
        return FileTransport(Path(env.get("WAITLIST_OUTBOX_FILE") or default_file).expanduser())
    if kind == "smtp":
        host = env.get("WAITLIST_SMTP_HOST")
        if not host:
            raise ValidationError("WAITLIST_SMTP_HOST is not set", field="WAITLIST_SMTP_HOST")
        return SmtpTransport(
            host=host,
            port=int(_number(env, "WAITLIST_SMTP_PORT", 587)),
            sender=env.get("WAITLIST_SMTP_FROM") or "waitlist@localhost",
            user=env.get("WAITLIST_SMTP_USER") or None,
            password=env.get("WAITLIST_SMTP_PASSWORD") or None,
            starttls=_flag(env.get("WAITLIST_SMTP_STARTTLS"), True),
            implicit_tls=_implicit_tls(env),
            timeout=_number(env, "WAITLIST_SMTP_TIMEOUT", 10),
            cafile=env.get("WAITLIST_SMTP_CAFILE") or None,
        )
    if kind == "webhook":
        url = env.get("WAITLIST_WEBHOOK_URL")
        if not url or not url.startswith(("http://", "https://")):
            raise ValidationError(
                "WAITLIST_WEBHOOK_URL must be an http(s) URL", field="WAITLIST_WEBHOOK_URL"
            )
        return WebhookTransport(
            url=url,
            token=env.get("WAITLIST_WEBHOOK_TOKEN") or None,
            timeout=_number(env, "WAITLIST_WEBHOOK_TIMEOUT", 10),
        )
    if kind == "twilio" and channel == "sms":
        from waitlist_tui.domain.messaging import twilio_sms

        return twilio_sms.from_env(env)
    if kind == "vonage" and channel == "sms":
        from waitlist_tui.domain.messaging import vonage_sms

        return vonage_sms.from_env(env)
    allowed = SMS_TRANSPORTS if channel == "sms" else EMAIL_TRANSPORTS
    raise ValidationError(
        f"{channel} transport must be one of {', '.join(allowed)}, got {kind!r}",
        field=f"{channel}_transport",
    )


def from_env(
    env: Mapping[str, str] | None = None,
    sms: str | None = None,
    email: str | None = None,
    default_file: Path | None = None,
) -> Transports:
    """The transports the environment (or the command's options) choose; `file` by default."""
    env = os.environ if env is None else env
    if default_file is None:
        from waitlist_tui.config import data_dir

        default_file = data_dir() / "outbox.jsonl"
    sms_kind = (sms or env.get("WAITLIST_SMS_TRANSPORT") or "file").lower()
    email_kind = (email or env.get("WAITLIST_EMAIL_TRANSPORT") or "file").lower()
    if sms_kind not in SMS_TRANSPORTS:
        raise ValidationError(
            f"sms transport must be one of {', '.join(SMS_TRANSPORTS)}, got {sms_kind!r}",
            field="sms_transport",
        )
    return Transports(
        build(sms_kind, env, default_file, "sms"),
        build(email_kind, env, default_file, "email"),
    )

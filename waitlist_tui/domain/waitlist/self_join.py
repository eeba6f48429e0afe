"""A client's own request from the /join page: written `pending` through the same rules as
the CLI's (adding.add: the same 4000 errors naming the field), then confirmed by a one-time
code sent to the client's phone through the outbox; only then is it `waiting`.

- The code: 6 digits, kept as an HMAC under a secret kept in the database (never the code),
  valid CODE_MINUTES, MAX_TRIES wrong tries and it is spent.
- At most CODES_PER_PHONE codes per phone per hour (counted in the database, so every server
  process sees the same count).
- The code's SMS goes without SMS consent (the client asked for it on the page, and it says
  nothing else), but never to a phone that texted STOP: the page then says to call the clinic.
- The answers never say whether a phone (or a client) was known before.
- Unconfirmed requests are purged after PURGE_HOURS (`waitlist-tui expire`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.catalog.clients import display_phone, normalize_phone
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import NotFound, Problems, Unprocessable, ValidationError
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.locking import JOIN_PHONE_LOCKS, transaction_lock
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    InboundMessage,
    JoinCode,
    OutboxMessage,
    Service,
)
from waitlist_tui.domain.store.schema import get_meta, set_meta
from waitlist_tui.domain.waitlist import adding

ACTOR = "self-join"  # who the audit trail records for what the page writes
CODE_KIND = consent.JOIN_CODE_KIND  # delivery lets it go without SMS consent
CODE_MINUTES = 15
MAX_TRIES = 5
CODES_PER_PHONE = 3  # an hour
PURGE_HOURS = 24
SECRET_KEY = "join_code_secret"
FIELD_MAX = 200  # characters in any one form field
FORM_FIELDS = frozenset(
    {
        "service",
        "date_range_start",
        "date_range_end",
        "preferred_days",
        "preferred_time_slots",
        "first_name",
        "last_name",
        "phone",
        "email",
        "consent_sms",
        "consent_email",
    }
)


@dataclass(frozen=True)
class Submitted:
    """What the page may say after a submission: a confirmation id to put in its URL (not
    the entry's), and whether a code went (False: the phone texted STOP; call the clinic)."""

    confirm_id: uuid.UUID
    code_sent: bool


def services(clinic: Clinic | None = None) -> list[tuple[str, str]]:
    """(code, name) of the services a client may ask for: the clinic's active ones."""
    clinic = clinic or get_clinic()
    rows = (
        Service.select(Service.code, Service.name)
        .where(Service.clinic == clinic, Service.active == True)  # noqa: E712
        .order_by(Service.name)
    )
    return [(s.code, s.name) for s in rows]


def _secret() -> bytes:
    value = get_meta(SECRET_KEY)
    if value is None:
        set_meta(SECRET_KEY, secrets.token_hex(32))
        value = get_meta(SECRET_KEY) or ""
    return bytes.fromhex(value)


def code_hash(confirm_id: uuid.UUID, code: str) -> str:
    message = f"{confirm_id}:{code}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def _text(form: dict[str, Any], key: str) -> str:
    value = form.get(key, "")
    if isinstance(value, list | tuple):
        raise ValidationError(f"{key} must be given once", field=key)
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text", field=key)
    if len(value) > FIELD_MAX:
        raise ValidationError(f"{key} must be at most {FIELD_MAX} characters", field=key)
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise ValidationError(f"{key} must not hold control characters", field=key)
    return value.strip()


def _choices(form: dict[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    values = [value] if isinstance(value, str) else list(value)
    if len(values) > 10:
        raise ValidationError(f"{key}: too many values", field=key)
    for v in values:
        if not isinstance(v, str) or len(v) > 20:
            raise ValidationError(f"{key}: {str(v)[:20]!r} is not a choice", field=key)
    return values


def _consent(form: dict[str, Any], key: str) -> bool:
    value = _text(form, key).lower()
    if value in ("", "no", "off", "false"):
        return False
    if value in ("yes", "on", "true", "1"):
        return True
    raise ValidationError(f"{key} must be yes or no", field=f"client.{key}")


def payload_of(form: dict[str, Any]) -> dict[str, Any]:
    """The form's fields as the CLI's JSON payload (every problem at once, as adding does)."""
    problems = Problems()
    unknown = sorted(set(form) - FORM_FIELDS - {"csrf"})
    if unknown:
        problems.errors.append(
            ValidationError(f"{unknown[0][:40]!r} is not a field of this form", field="form")
        )
    text = {
        k: problems.check(_text, form, k)
        for k in FORM_FIELDS - {"preferred_days", "preferred_time_slots"}
    }
    days = problems.check(_choices, form, "preferred_days") or []
    slots = problems.check(_choices, form, "preferred_time_slots") or []
    sms = problems.check(_consent, form, "consent_sms")
    mail = problems.check(_consent, form, "consent_email")
    if not text.get("phone") and "phone" not in problems.fields():
        problems.errors.append(
            ValidationError(
                "client.phone is required (the code is sent to it)", field="client.phone"
            )
        )
    if not text.get("service") and "service" not in problems.fields():
        problems.errors.append(ValidationError("service is required", field="service"))
    problems.raise_any()
    payload: dict[str, Any] = {
        "service": text["service"],
        "preferred_days": days,
        "preferred_time_slots": slots,
        "client": {
            "first_name": text["first_name"],
            "last_name": text["last_name"],
            "phone": text["phone"],
            "email": text["email"] or None,
            "consent_sms": bool(sms),
            "consent_email": bool(mail),
        },
    }
    for key in ("date_range_start", "date_range_end"):
        if text[key]:
            payload[key] = text[key]
    return payload


def phone_stopped(clinic: Clinic, phone: str) -> bool:
    """The phone's last consent keyword was STOP (or its kin), not START."""
    last = (
        InboundMessage.select(InboundMessage.outcome)
        .where(
            InboundMessage.clinic == clinic,
            InboundMessage.sender == phone,
            InboundMessage.outcome.in_(["opted_out", "opted_in"]),
        )
        .order_by(InboundMessage.received_at.desc())
        .first()
    )
    return last is not None and last.outcome == "opted_out"


def codes_this_hour(phone: str, now: dt.datetime) -> int:
    return (
        JoinCode.select()
        .where(JoinCode.phone == phone, JoinCode.sent_at > now - dt.timedelta(hours=1))
        .count()
    )


class TooMany(Unprocessable):
    """Too many requests (the page answers 429)."""


def submit(form: dict[str, Any], clinic: Clinic | None = None) -> Submitted:
    """A pending, self-joined entry and its code in the outbox (one transaction); or 4000
    naming the field, nothing written. The code itself is never returned: it is in the
    outbox message only. The entry belongs to an existing client only when name and phone
    match (clients.attach_or_create), and that client is left as it is: a consent the page
    asked for and they lack is kept on the code and given once the code proves the phone."""
    clinic = clinic or get_clinic()
    payload = payload_of(form)
    typed = payload["client"]["phone"]
    try:
        phone = normalize_phone(typed, clinic.region) or ""
    except ValidationError:
        phone = ""  # adding names the field below, with every other problem
    if phone:
        payload["notes"] = f"Joined online; code sent to {display_phone(phone)}"
    now = clock.now()
    with database.atomic():
        entry = adding.add(payload, ACTOR, clinic, self_joined=True)  # the 4000s first
        client = Client.get_by_id(entry.client_id)
        asked = payload["client"]
        # Only what the client lacks (a new client already has what the page stated).
        adds = {k: bool(asked[k]) and not getattr(client, k) for k in consent_keys()}
        # One phone's submissions one at a time (PostgreSQL; SQLite has one writer): two at
        # once cannot both read the count under the limit.
        transaction_lock(JOIN_PHONE_LOCKS + zlib.crc32(phone.encode()) % 1_000_000)
        if codes_this_hour(phone, now) >= CODES_PER_PHONE:
            raise TooMany(
                "too many codes for this phone: try again in an hour, or call the clinic",
                field="client.phone",
            )
        confirm_id = uuid.uuid4()
        code = f"{secrets.randbelow(10**6):06d}"
        JoinCode.create(
            id=confirm_id,
            entry=entry.id,
            phone=phone,
            code_hash=code_hash(confirm_id, code),
            sent_at=now,
            expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
            adds_consent_sms=adds["consent_sms"],
            adds_consent_email=adds["consent_email"],
        )
        if phone_stopped(clinic, phone):
            audit.record(
                ACTOR,
                "message.not_sent",
                "client",
                client.id,
                {"kind": [None, CODE_KIND], "why": [None, "the phone texted STOP"]},
            )
            return Submitted(confirm_id, code_sent=False)
        body = (
            f"{clinic.name}: your code is {code}. It confirms your waitlist request "
            f"and is good for {CODE_MINUTES} minutes."
        )
        _queue_code(clinic, client, phone, body, confirm_id, now)
    return Submitted(confirm_id, code_sent=True)


def _queue_code(
    clinic: Clinic, client: Client, phone: str, body: str, confirm_id: uuid.UUID, now: dt.datetime
) -> None:
    """The code's SMS, due at once (a code held for quiet hours would expire)."""
    from waitlist_tui.domain.messaging import outbox

    outbox._write(
        clinic,
        client,
        CODE_KIND,
        outbox.SMS,
        phone,
        "",
        body,
        f"join:{confirm_id}:v1",
        (consent.JOIN_CODE_REF, confirm_id),
        now,
        ACTOR,
        now,
    )


def _code_row(confirm_id: Any) -> JoinCode:
    try:
        key = uuid.UUID(str(confirm_id))
    except ValueError:
        raise NotFound("no such request: start again", field="code") from None
    row = JoinCode.get_or_none(JoinCode.id == key)
    if row is None:
        raise NotFound("no such request: start again", field="code")
    return row


LOCKED = "too many wrong codes: start again, or call the clinic"


def confirm(confirm_id: Any, code: Any) -> uuid.UUID:
    """The entry made `waiting` when the code is right (an audit row); else 4000 (wrong code,
    tries left), or 4220 (expired, spent, too many tries). Returns the entry's id. A try is
    counted (and committed) before the code is compared: a wrong one stays counted."""
    now = clock.now()
    text = code.strip() if isinstance(code, str) else ""
    with database.atomic():
        row = _code_row(confirm_id)
        if row.used_at is not None:
            raise Unprocessable("this request is already confirmed", field="code")
        if row.tries >= MAX_TRIES:
            raise Unprocessable(LOCKED, field="code")
        if row.expires_at <= now:
            raise Unprocessable("the code has expired: start again", field="code")
        if not (len(text) == 6 and text.isdigit()):
            raise ValidationError("code must be the 6 digits we sent", field="code")
        # A conditional update: two tries at once cannot both pass the last one.
        counted = (
            JoinCode.update(tries=JoinCode.tries + 1)
            .where(JoinCode.id == row.id, JoinCode.tries < MAX_TRIES, JoinCode.used_at.is_null())
            .execute()
        )
    if not counted:
        raise Unprocessable(LOCKED, field="code")
    if not hmac.compare_digest(row.code_hash, code_hash(row.id, text)):
        left = MAX_TRIES - row.tries - 1
        if left <= 0:
            raise Unprocessable(LOCKED, field="code")
        raise ValidationError(
            f"code is not right ({left} {'try' if left == 1 else 'tries'} left)",
            field="code",
            data={"tries_left": left},
        )
    with database.atomic():
        used = (
            JoinCode.update(used_at=now)
            .where(JoinCode.id == row.id, JoinCode.used_at.is_null())
            .execute()
        )
        if not used:
            raise Unprocessable("this request is already confirmed", field="code")
        moved = (
            Entry.update_by(
                ACTOR, now, status=vocab.WAITING, status_changed_at=now, version=Entry.version + 1
            )
            .where(Entry.id == row.entry_id, Entry.status == vocab.PENDING)
            .execute()
        )
        if not moved:
            raise Unprocessable("this request is no longer open: start again", field="code")
        audit.record(
            ACTOR,
            "entry.confirm",
            "entry",
            row.entry_id,
            {"status": [vocab.PENDING, vocab.WAITING], "phone_confirmed": [None, True]},
        )
        _add_consents(row)
    return row.entry_id


def consent_keys() -> tuple[str, str]:
    return ("consent_sms", "consent_email")


def _add_consents(row: JoinCode) -> None:
    """The consents the page asked for that the client lacked, now that the code proved the
    phone: only given, never taken (a consent the page left unticked stays as it was)."""
    given = {
        k: True
        for k, asked in (
            ("consent_sms", row.adds_consent_sms),
            ("consent_email", row.adds_consent_email),
        )
        if asked
    }
    client = Client.get_by_id(Entry.get_by_id(row.entry_id).client_id)
    if given.get("consent_sms") and phone_stopped(client.clinic, row.phone):
        del given["consent_sms"]  # a STOP texted since the code went stands: START undoes it
    if given:
        clients.set_consent(client, given, ACTOR, "given on the join page, phone confirmed")


def purge(now: dt.datetime | None = None, actor: str = "system") -> int:
    """Delete the self-joined requests left unconfirmed for PURGE_HOURS (with their codes
    and unsent code messages); an audit row each. Returns how many."""
    now = now or clock.now()
    cutoff = now - dt.timedelta(hours=PURGE_HOURS)
    ids = [
        e.id
        for e in Entry.select(Entry.id).where(
            Entry.status == vocab.PENDING,
            Entry.self_joined == True,  # noqa: E712
            Entry.created_at <= cutoff,
        )
    ]
    for entry_id in ids:
        with database.atomic():
            codes = [
                str(c.id) for c in JoinCode.select(JoinCode.id).where(JoinCode.entry == entry_id)
            ]
            if codes:
                OutboxMessage.delete().where(
                    OutboxMessage.ref_type == consent.JOIN_CODE_REF,
                    OutboxMessage.ref_id.in_(codes),
                    OutboxMessage.status == "pending",
                ).execute()
            gone = (
                Entry.delete().where(Entry.id == entry_id, Entry.status == vocab.PENDING).execute()
            )
            if gone:
                audit.record(
                    actor, "entry.purge", "entry", entry_id, {"why": [None, "unconfirmed"]}
                )
    return len(ids)

"""Clients: find or create, with phones in E.164 (phonenumbers) and normalised emails."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from peewee import fn

from waitlist_tui.domain import audit, clock
from waitlist_tui.domain.db import database
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.models import Client, Clinic
from waitlist_tui.domain.textinput import text_value

CLIENT_FIELDS = ("first_name", "last_name", "phone", "email", "consent_sms", "consent_email")
_NOT_DIGITS = re.compile(r"\D")


def search_text(first: str | None, last: str | None, email: str | None, phone: str | None) -> str:
    """What the desk may type to find a client: names, email, and the phone's digits."""
    digits = _NOT_DIGITS.sub("", phone or "")
    return " ".join(
        p for p in ((first or "").lower(), (last or "").lower(), (email or "").lower(), digits) if p
    )


def normalize_phone(raw: str | None, region: str, field: str = "client.phone") -> str | None:
    import phonenumbers  # imported on first use: it would add to every start of the app

    raw = text_value(raw, field, max_len=40)
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            f"{field} '{raw}' is not a phone number ({exc})", field=field
        ) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{field} '{raw}' is not a valid phone number for region {region}", field=field
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str | None, field: str = "client.email") -> str | None:
    from email_validator import EmailNotValidError, validate_email

    raw = text_value(raw, field, max_len=254)
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(
            f"{field} '{raw}' is not a valid email address: {exc}", field=field
        ) from exc


def display_phone(e164: str | None) -> str:
    import phonenumbers

    if not e164:
        return ""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


@dataclass(frozen=True)
class ClientInput:
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    consent_sms: bool = True
    consent_email: bool = True


def _name(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"client.{key} is required", field=f"client.{key}")
    return " ".join(text_value(value, f"client.{key}", max_len=100).split())


def parse_client(data: Any, region: str) -> ClientInput:
    if not isinstance(data, dict):
        raise ValidationError(
            "client must be an object with first_name, last_name, phone, email", field="client"
        )
    unknown = set(data) - set(CLIENT_FIELDS) - {"id"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"client.{name} is not a client field", field=f"client.{name}")
    first, last = _name(data, "first_name"), _name(data, "last_name")
    phone = normalize_phone(data.get("phone"), region)
    email = normalize_email(data.get("email"))
    if not phone and not email:
        raise ValidationError(
            "client needs a phone or an email so the desk can reach them", field="client.phone"
        )
    return ClientInput(
        first,
        last,
        phone,
        email,
        bool(data.get("consent_sms", True)),
        bool(data.get("consent_email", True)),
    )


def find_or_create(
    clinic: Clinic, data: ClientInput, actor: str, client_id: uuid.UUID | None = None
) -> tuple[Client, bool]:
    """The same person (name and phone, or name and email) is never entered twice; a shared
    family phone with another name is a different client. A new client takes `client_id`
    when given (an import keeps the exported ids)."""
    same_name = (fn.LOWER(Client.first_name) == data.first_name.lower()) & (
        fn.LOWER(Client.last_name) == data.last_name.lower()
    )
    for key, value in (("phone", data.phone), ("email", data.email)):
        if value:
            found = (
                Client.select()
                .where((Client.clinic == clinic) & same_name & (getattr(Client, key) == value))
                .first()
            )
            if found:
                return found, False
    now = clock.now()
    with database.atomic():
        client = Client.create(
            **({"id": client_id} if client_id else {}),
            clinic=clinic,
            first_name=data.first_name,
            last_name=data.last_name,
            phone=data.phone,
            email=data.email,
            consent_sms=data.consent_sms,
            consent_email=data.consent_email,
            search=search_text(data.first_name, data.last_name, data.email, data.phone),
            created_at=now,
            updated_at=now,
            created_by=actor,
            updated_by=actor,
        )
        audit.record(
            actor,
            "client.create",
            "client",
            client.id,
            {k: [None, audit.plain(getattr(data, k))] for k in CLIENT_FIELDS},
        )
    return client, True


def client_dict(client: Client) -> dict[str, Any]:
    return {
        "id": str(client.id),
        "first_name": client.first_name,
        "last_name": client.last_name,
        "phone": client.phone,
        "email": client.email,
        "consent_sms": client.consent_sms,
        "consent_email": client.consent_email,
    }


def search_terms(text: str) -> list[str]:
    """Each word must match; a phone typed with spaces or dashes matches its digits."""
    terms = []
    for word in text.lower().split():
        digits = re.sub(r"[\s\-().+]", "", word)
        terms.append(digits if digits.isdigit() else word)
    return [t for t in terms if t]


def search_condition(text: str):
    cond = None
    for term in search_terms(text):
        part = Client.search.contains(term)  # peewee escapes LIKE wildcards
        cond = part if cond is None else cond & part
    return cond


def list_clients(
    clinic: Clinic, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Client], int]:
    query = Client.select().where(Client.clinic == clinic)
    cond = search_condition(search or "")
    if cond is not None:
        query = query.where(cond)
    total = query.count()
    rows = list(
        query.order_by(Client.last_name, Client.first_name, Client.id).limit(limit).offset(offset)
    )
    return rows, total

"""The outbox: messages to clients, written in the same transaction as what they tell.

An offer, an expired offer, a booking, a promoted class seat: the service that writes it calls
one of the `tell_*` functions inside its own transaction, so a rolled-back offer leaves no
message and a committed one always has its message. Delivery is another process's job
(domain/messaging/delivery.py); this module only decides what to say, to whom, on which channel, and
from when:

- channel: SMS when the client consented to SMS and has a phone, else email when they
  consented to email and have an address, else no message (the desk phones them);
- quiet hours: a message written inside the clinic's quiet hours waits until they end;
- the idempotency key (`offer:<id>:v1`) is unique: writing the same message twice is a no-op.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import local_dates, templates
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.base import new_id
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Client, Clinic, OutboxMessage, Provider, Service
from waitlist_tui.domain.store.prepared import PreparedFamily, param
from waitlist_tui.domain.timeutil import iso

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
STATUSES = (PENDING, SENT, FAILED, DEAD)
SMS, EMAIL = "sms", "email"
REPLY_REF = "reply"  # ref_type of an answer to a client's keyword (ref_id: the inbound id)
SLOT_FORMAT = "%a %d %b %H:%M"
# What {link} becomes in a stored offer message when the clinic has a public URL: delivery
# puts a fresh link in its place as the message goes (fill/offer_links.py), so the outbox
# never holds a live token.
LINK_MARK = "[offer link]"


def mask(recipient: str | None) -> str:
    """Contact details as logs and screens show them: +1617*****42, j***@example.com."""
    if not recipient:
        return ""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = len(recipient)
    if digits <= 6:
        return "*" * digits
    return recipient[:5] + "*" * (digits - 7) + recipient[-2:]


def scrub(text: str, recipient: str | None) -> str:
    """An error text with the recipient masked (SMTP servers echo addresses back)."""
    if not recipient:
        return text
    return re.sub(re.escape(recipient), mask(recipient), text, flags=re.IGNORECASE)


def channel_for(client: Client) -> tuple[str, str] | None:
    """(channel, recipient) the client consented to and can be reached on, SMS first."""
    if client.consent_sms and client.phone:
        return SMS, client.phone
    if client.consent_email and client.email:
        return EMAIL, client.email
    return None


def local_text(at: dt.datetime | None, time_zone: str) -> str:
    return at.astimezone(ZoneInfo(time_zone)).strftime(SLOT_FORMAT) if at else ""


def queue(
    *,
    clinic: Clinic,
    client: Client,
    kind: str,
    key: str,
    values: dict[str, str],
    actor: str,
    now: dt.datetime,
    ref: tuple[str, Any] = ("", ""),
) -> OutboxMessage | None:
    """Write one message in the caller's transaction; None when the client cannot be messaged
    (no consent or no contact details for any channel: an audit row says so)."""
    route = channel_for(client)
    if route is None:
        audit.record(
            actor,
            "message.not_sent",
            "client",
            client.id,
            {"kind": [None, kind], "key": [None, key]},
        )
        return None
    channel, recipient = route
    settings = message_settings.of(clinic)
    subject, body = templates.render(
        settings.templates, kind, channel, {"clinic": clinic.name, **values}
    )
    due = message_settings.quiet_until(now, clinic.time_zone, settings.quiet_hours)
    return _write(
        clinic, client, kind, channel, recipient, subject, body, key, ref, due, actor, now
    )


def _insert_query(names: tuple[str, ...]) -> Any:
    fields = OutboxMessage._meta.fields
    values = {name: param(name, fields[name]) for name in names}
    return OutboxMessage.insert(**values).on_conflict_ignore().returning(OutboxMessage.id)


_INSERT = PreparedFamily(_insert_query)  # every message queued: its SQL built once


def _write(
    clinic: Clinic,
    client: Client,
    kind: str,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    key: str,
    ref: tuple[str, Any],
    due: dt.datetime,
    actor: str,
    now: dt.datetime,
) -> OutboxMessage:
    """The outbox row once per idempotency key, with its audit row the first time. The id
    it returns says whether it was written (a last-insert id does not: SQLite's is the
    connection's last one, and peewee's SQLite row count adds up across statements); a new row
    is not read back, only one that was already there."""
    values: dict[str, Any] = {
        "id": new_id(),
        "clinic": clinic.id,
        "client": client.id,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "idempotency_key": key,
        "ref_type": ref[0],
        "ref_id": str(ref[1]),
        "status": PENDING,
        "next_attempt_at": due,
        **OutboxMessage.stamps(actor, now, new=True),
    }
    if not _INSERT(tuple(values)).cursor(**values).fetchall():  # a conflict returns no row
        return OutboxMessage.get(OutboxMessage.idempotency_key == key)
    message = OutboxMessage(**values)
    audit.record(
        actor,
        "message.queue",
        "message",
        message.id,
        {"kind": [None, kind], "channel": [None, channel], "key": [None, key]},
    )
    return message


def queue_reply(
    *,
    clinic: Clinic,
    client: Client,
    phone: str,
    kind: str,
    body: str,
    key: str,
    actor: str,
    now: dt.datetime,
    ref_id: uuid.UUID,
) -> OutboxMessage:
    """An SMS answering the client's own keyword (STOP, START, HELP), to the phone it came
    from, due at once (an answer, so not held for quiet hours). Only the kinds in
    consent.CARRIER_REPLIES go out without SMS consent; delivery checks the rest as usual."""
    return _write(
        clinic, client, kind, SMS, phone, "", body, key, (REPLY_REF, ref_id), now, actor, now
    )


def slot_values(
    client: Client,
    clinic: Clinic,
    service: Service,
    provider: Provider | None,
    starts_at: dt.datetime,
    hold_until: dt.datetime | None = None,
    ref: uuid.UUID | None = None,
) -> dict[str, str]:
    """The placeholders of a message about a slot, in the clinic's time zone and locale."""
    locale = local_dates.of(clinic)
    return {
        "first_name": client.first_name,
        "service": service.name,
        "provider": provider.name if provider else clinic.name,
        "slot": local_dates.format_when(starts_at, clinic.time_zone, locale),
        "hold_until": local_dates.format_when(hold_until, clinic.time_zone, locale),
        "ref": str(ref)[:6].upper() if ref else "",
    }


# --- what the services call, inside their transactions ----------------------------------------


@dataclass(frozen=True)
class SlotParties:
    """The rows a message about a slot names, as its caller already holds them: a broadcast
    to N read six rows again per offer (about 6N queries) when the outbox fetched them."""

    clinic: Clinic
    client: Client
    service: Service
    provider: Provider | None
    starts_at: dt.datetime


def offer_key(offer_id: IdRef, kind: str) -> str:
    """The idempotency key of an offer's message of `kind` (one of each per offer)."""
    suffix = {
        "offer": "",
        "offer_expired": ":expired",
        "offer_withdrawn": ":withdrawn",
        "booked": ":booked",
    }.get(kind, ":filled")
    return f"offer:{offer_id}{suffix}:v1"


def tell_offer(
    offer: Any, kind: str, parties: SlotParties, actor: str, now: dt.datetime
) -> OutboxMessage | None:
    """An offer's message: kind offer, offer_expired, offer_withdrawn, booked or already_filled,
    about the rows in `parties` (no query of its own before the write)."""
    values = slot_values(
        parties.client,
        parties.clinic,
        parties.service,
        parties.provider,
        parties.starts_at,
        offer.expires_at if kind == "offer" else None,
        offer.id,
    )
    linked = kind == "offer" and message_settings.of(parties.clinic).public_url
    values["link"] = LINK_MARK if linked else ""
    return queue(
        clinic=parties.clinic,
        client=parties.client,
        kind=kind,
        key=offer_key(offer.id, kind),
        values=values,
        actor=actor,
        now=now,
        ref=("offer", offer.id),
    )


def tell_seat(enrolment: Any, kind: str, actor: str, now: dt.datetime) -> OutboxMessage | None:
    """A class seat freed up for a waitlisted client: seat_promoted or seat_offered."""
    from waitlist_tui.domain.store.models import EventInstance

    instance = EventInstance.get_by_id(enrolment.instance_id)
    client = Client.get_by_id(enrolment.client_id)
    clinic = Clinic.get_by_id(instance.clinic_id)
    provider = Provider.get_by_id(instance.provider_id) if instance.provider_id else None
    values = slot_values(
        client,
        clinic,
        Service.get_by_id(instance.service_id),
        provider,
        instance.starts_at,
        enrolment.expires_at if kind == "seat_offered" else None,
        enrolment.id,
    )
    return queue(
        clinic=clinic,
        client=client,
        kind=kind,
        key=f"enrolment:{enrolment.id}:{kind}:v1",
        values=values,
        actor=actor,
        now=now,
        ref=("enrolment", enrolment.id),
    )


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    """An outbox row as the desk reads it: the recipient masked."""

    id: uuid.UUID
    kind: str
    channel: str
    recipient: str
    client_name: str
    subject: str
    body: str
    key: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    provider_message_id: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    interrupted: int = 0  # attempts cut off mid-send: the client may have got it twice
    delivery_status: str | None = None  # the provider's last receipt (receipts.py)
    delivery_error: str | None = None  # the provider's error code with it
    delivery_at: dt.datetime | None = None

    @property
    def delivery(self) -> str:
        """What the provider's receipts say, as the desk reads it: "delivered",
        "undelivered (30003)"; "" when no receipt came (email, a file, a gateway)."""
        if not self.delivery_status:
            return ""
        code = f" ({self.delivery_error})" if self.delivery_error else ""
        return self.delivery_status + code

    @property
    def tries(self) -> str:
        """Attempts as the desk reads them: "2 (1 cut off)" when a crash may have sent it
        twice (the provider drops the repeat only if it honours the idempotency key)."""
        if self.interrupted:
            return f"{self.attempts} ({self.interrupted} cut off)"
        return str(self.attempts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "kind": self.kind,
            "channel": self.channel,
            "recipient": self.recipient,
            "client": self.client_name,
            "subject": self.subject,
            "body": self.body,
            "idempotency_key": self.key,
            "status": self.status,
            "attempts": self.attempts,
            "interrupted": self.interrupted,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_error": self.last_error,
            "provider_message_id": self.provider_message_id,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "delivery_status": self.delivery_status,
            "delivery_error": self.delivery_error,
            "delivery_at": iso(self.delivery_at),
        }


def list_messages(
    status: str | None = None, clinic: Clinic | None = None, limit: int = 200, offset: int = 0
) -> list[MessageView]:
    """Newest first; `status` one of pending, sent, failed, dead (None: all)."""
    query = OutboxMessage.select(OutboxMessage, Client).join(Client)
    if status:
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
        query = query.where(OutboxMessage.status == status)
    if clinic is not None:
        query = query.where(OutboxMessage.clinic == clinic.id)
    if not 1 <= limit <= 5000:
        raise ValidationError("limit must be 1-5000", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    rows = (
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        MessageView(
            r.id,
            r.kind,
            r.channel,
            mask(r.recipient),
            f"{r.client.first_name} {r.client.last_name}",
            r.subject,
            r.body,
            r.idempotency_key,
            r.status,
            r.attempts,
            r.next_attempt_at if r.status in (PENDING, FAILED) else None,
            r.last_error,
            r.provider_message_id,
            r.created_at,
            r.sent_at,
            r.interrupted,
            r.delivery_status,
            r.delivery_error,
            r.delivery_at,
        )
        for r in rows
    ]


def status_counts(clinic: Clinic | None = None) -> dict[str, int]:
    from peewee import fn

    from waitlist_tui.domain.store.db import tuple_rows

    query = OutboxMessage.select(OutboxMessage.status, fn.COUNT(OutboxMessage.id))
    if clinic is not None:
        query = query.where(OutboxMessage.clinic == clinic.id)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(tuple_rows(query.group_by(OutboxMessage.status))))
    return counts

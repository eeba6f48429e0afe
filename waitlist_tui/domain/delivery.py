"""Delivering the outbox: claim due messages, send each, mark it sent, or schedule a retry.

Claiming is one short transaction that stamps a lease (`lease_until`, `claim_token`) on up to
`batch` due rows. On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`, so two delivery
loops (two desks) claim disjoint rows without waiting on each other; on SQLite the write
transaction is IMMEDIATE, so claims are serialised and the lease alone keeps them apart.
Sending happens outside any transaction; marking it sent (or failed) is conditional on the
claim token. A loop that dies between sending and marking leaves its lease to run out; the
message is then claimed again and sent again with the same idempotency key, for the other
side to recognise. Failures retry with exponential backoff and jitter; after `max_attempts`
the message is dead and stays visible with its last error.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from waitlist_tui.domain import clock, consent, message_settings, offer_time, outbox
from waitlist_tui.domain.db import database, is_postgres
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.models import Client, Clinic, OutboxMessage
from waitlist_tui.domain.outbox import DEAD, FAILED, PENDING, SENT, mask, scrub
from waitlist_tui.domain.transports import Outgoing, TransportError, Transports

log = logging.getLogger("waitlist_tui.delivery")

LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt k (1-based) that fails waits base * 2**(k-1) seconds, at most `cap`, spread by
    +-`jitter` (a fraction) so that many failures do not retry in one burst."""

    max_attempts: int = 5
    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ValidationError("max attempts must be 1-100", field="max_attempts")
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValidationError("backoff must be > 0 and at most its cap", field="backoff")
        if not 0 <= self.jitter < 1:
            raise ValidationError("jitter must be from 0 to below 1", field="jitter")

    def delay(self, attempts: int, rng: random.Random) -> float:
        plain = min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))
        return plain * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class Report:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0  # quiet hours began since the message was queued
    keys: list[str] = field(default_factory=list)  # the keys sent, in order

    def to_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "failed": self.failed,
            "dead": self.dead,
            "deferred": self.deferred,
        }

    def add(self, other: Report) -> None:
        for name in ("claimed", "sent", "failed", "dead", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.keys.extend(other.keys)


def claim(batch: int, token: str, lease_seconds: float = LEASE_SECONDS) -> list[OutboxMessage]:
    """Lease up to `batch` due messages (pending or failed, time come, no live lease)."""
    if not 1 <= batch <= 1000:
        raise ValidationError("batch must be 1-1000", field="batch")
    now = clock.now()
    due = (
        OutboxMessage.status.in_([PENDING, FAILED])
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.lease_until.is_null() | (OutboxMessage.lease_until <= now))
    )
    with database.atomic():
        query = (
            OutboxMessage.select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id)
            .limit(batch)
        )
        if is_postgres():
            query = query.for_update("FOR UPDATE SKIP LOCKED")
        ids = [row.id for row in query]
        if not ids:
            return []
        OutboxMessage.update(
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            claim_token=token,
            updated_at=now,
        ).where(OutboxMessage.id.in_(ids), due).execute()
        return list(
            OutboxMessage.select()
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == token)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id)
        )


def _finish(message: OutboxMessage, token: str, **values: Any) -> bool:
    """Write the outcome if we still hold the claim; False when another loop took it over."""
    values.update(
        lease_until=None,
        claim_token=None,
        updated_at=clock.now(),
        version=OutboxMessage.version + 1,
    )
    with database.atomic():
        rows = (
            OutboxMessage.update(**values)
            .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
            .execute()
        )
    return rows == 1


def mark_sent(message: OutboxMessage, token: str, provider_id: str) -> bool:
    return _finish(
        message,
        token,
        status=SENT,
        attempts=OutboxMessage.attempts + 1,
        sent_at=clock.now(),
        provider_message_id=provider_id[:200],
        last_error="",
    )


def mark_failed(
    message: OutboxMessage,
    token: str,
    error: str,
    permanent: bool,
    policy: RetryPolicy,
    rng: random.Random,
) -> str:
    """failed with the next attempt scheduled, or dead; returns the status written."""
    attempts = message.attempts + 1
    now = clock.now()
    dead = permanent or attempts >= policy.max_attempts
    status = DEAD if dead else FAILED
    _finish(
        message,
        token,
        status=status,
        attempts=attempts,
        last_error=scrub(error, message.recipient)[:2000],
        next_attempt_at=now if dead else now + dt.timedelta(seconds=policy.delay(attempts, rng)),
    )
    return status


def _defer(message: OutboxMessage, token: str, until: dt.datetime) -> None:
    _finish(message, token, next_attempt_at=until)


def _consent_refusal(message: OutboxMessage) -> str | None:
    """Why the message may not go now (consent read at send time, not when queued), or None.
    Only a carrier-required answer to the client's own STOP or HELP goes without consent."""
    if message.ref_type == outbox.REPLY_REF and message.kind in consent.CARRIER_REPLIES:
        return None
    client = Client.get_or_none(Client.id == message.client_id)
    if client is None:
        return "the client is gone"
    by_channel = {outbox.SMS: client.consent_sms, outbox.EMAIL: client.consent_email}
    given = by_channel.get(message.channel)
    if given is None:
        return f"no consent for channel {message.channel!r}"
    return None if given else f"no {message.channel} consent at send time (withdrawn or not given)"


def deliver_once(
    transports: Transports,
    batch: int = 50,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> Report:
    """One pass: claim a batch and send it."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    token = str(uuid.uuid4())
    report = Report()
    claimed = claim(batch, token, lease_seconds)
    report.claimed = len(claimed)
    clinics: dict[Any, Clinic] = {}
    for message in claimed:
        clinic = clinics.get(message.clinic_id) or Clinic.get_by_id(message.clinic_id)
        clinics[message.clinic_id] = clinic
        refusal = _consent_refusal(message)
        if refusal:
            mark_failed(message, token, refusal, True, policy, rng)
            report.dead += 1
            continue
        quiet = message_settings.of(clinic).quiet_hours
        now = clock.now()
        until = message_settings.quiet_until(now, clinic.time_zone, quiet)
        if message.ref_type == outbox.REPLY_REF:
            until = now  # an answer to the client's own text is not held for quiet hours
        late = offer_time.undeliverable(message, until)
        if late:  # an offer's message goes out before its deadline or not at all
            _finish(message, token, status=DEAD, last_error=late)
            log.info("dropped %s: %s", message.idempotency_key, late)
            report.dead += 1
            continue
        if until > now:
            _defer(message, token, until)
            offer_time.hold_starts(message, until)
            report.deferred += 1
            continue
        outgoing = Outgoing(
            message.idempotency_key,
            message.channel,
            message.recipient,
            message.subject,
            message.body,
        )
        transport = transports.for_channel(message.channel)
        who = mask(message.recipient)
        try:
            provider_id = transport.send(outgoing)
        except TransportError as exc:
            status = mark_failed(message, token, str(exc), exc.permanent, policy, rng)
            log.warning(
                "%s %s to %s via %s: %s",
                status,
                message.idempotency_key,
                who,
                transport.name,
                scrub(str(exc), message.recipient),
            )
            report.dead += status == DEAD
            report.failed += status == FAILED
            continue
        if mark_sent(message, token, provider_id):
            offer_time.hold_starts(message, clock.now())  # a SEQUENTIAL hold starts now
        log.info(
            "sent %s %s to %s via %s", message.idempotency_key, message.channel, who, transport.name
        )
        report.sent += 1
        report.keys.append(message.idempotency_key)
    return report


def deliver(
    transports: Transports,
    batch: int = 50,
    policy: RetryPolicy | None = None,
    loop: bool = False,
    interval: float = 5.0,
    stop: Callable[[], bool] = lambda: False,
    rng: random.Random | None = None,
    total: Report | None = None,
) -> Report:
    """Send what is due: until nothing is left (once), or for ever (loop, until `stop`).
    Counts add up in `total` as batches finish, so a loop stopped by Ctrl+C can still say
    what it sent."""
    total = total if total is not None else Report()
    while not stop():
        report = deliver_once(transports, batch, policy, rng)
        total.add(report)
        if report.claimed:
            continue  # more may be due: go again at once
        if not loop:
            break
        time.sleep(interval)
    return total

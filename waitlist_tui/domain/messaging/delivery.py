"""Delivering the outbox: claim due messages, send each, mark it sent, or schedule a retry.

Claiming is one short transaction that stamps a lease (`lease_until`, `claim_token`) on up to
`batch` due rows. On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`, so two delivery
loops (two desks) claim disjoint rows without waiting on each other; on SQLite the write
transaction is IMMEDIATE, so claims are serialised and the lease alone keeps them apart.

Crash safety. Each attempt is written down (committed) before the message is handed to the
transport: `attempts` goes up and `sending_since` is set. Marking it sent (or failed) clears
`sending_since`, conditional on the claim token. A run killed between the two leaves
`sending_since` set; the run that claims the message next counts the cut-off attempt in
`interrupted` (and an audit row), then sends it again with the same idempotency key, which
every transport passes on so that the provider can drop the repeat. A desk reading the outbox
sees `attempts = 2, interrupted = 1`: the client may have got it twice.

A dead run's claims come back promptly. The lease is short (30 s, longer when a transport's
timeout asks for it) and renewed before each send while the run lives. On PostgreSQL a run
also holds a session advisory lock named after its claim token; the lock dies with the
session, so a claim whose token nobody holds any more is taken over at once, lease or not.
Failures retry with exponential backoff and jitter; after `max_attempts` the message is dead
and stays visible with its last error.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import offer_links, offer_time
from waitlist_tui.domain.messaging import consent, outbox
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.messaging.outbox import DEAD, FAILED, PENDING, SENT, mask, scrub
from waitlist_tui.domain.messaging.transports import Outgoing, TransportError, Transports
from waitlist_tui.domain.store import audit, locking
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import Client, Clinic, OutboxMessage
from waitlist_tui.domain.store.prepared import Prepared, PreparedFamily, param

log = logging.getLogger("waitlist_tui.delivery")

LEASE_SECONDS = 30.0
# classid of the session advisory locks delivery runs hold on their claim tokens (PostgreSQL)
CLAIM_LOCKS = locking.CLAIM_LOCKS
ACTOR = "delivery"


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
        plain: float = min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))
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


def _hold(token: str) -> bool:
    """PostgreSQL: take the session lock that says this token's run is alive (False: another
    live session holds a token of the same hash; that run claims nothing then)."""
    return locking.hold_session_lock(CLAIM_LOCKS, token)


def _let_go(token: str) -> None:
    """PostgreSQL: this run is done with its token (its session may already be gone)."""
    locking.release_session_lock(CLAIM_LOCKS, token)


def _dead_tokens(now: dt.datetime) -> list[str]:
    """PostgreSQL: tokens of live-leased due rows whose run's session is gone (nobody holds
    their advisory lock): their claims are free at once."""
    at = OutboxMessage.lease_until.db_value(now)  # naive UTC, as stored: no session time zone
    rows = database.execute_sql(
        "SELECT DISTINCT o.claim_token FROM outbox_message o "
        "WHERE o.status IN (%s, %s) AND o.next_attempt_at <= %s AND o.lease_until > %s "
        "AND o.claim_token IS NOT NULL AND NOT EXISTS ("
        " SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = %s AND l.objid = hashtext(o.claim_token)::oid AND l.objsubid = 2)",
        (PENDING, FAILED, at, at, CLAIM_LOCKS),
    )
    return [token for (token,) in rows]


def _due(dead: int) -> Any:
    """Due and free: pending or failed, its time come, no live lease (or the lease of one of
    `dead` tokens whose run is gone)."""
    free = OutboxMessage.lease_until.is_null() | (OutboxMessage.lease_until <= param("now"))
    if dead:
        free = free | OutboxMessage.claim_token.in_(param("dead", size=dead))
    return (
        OutboxMessage.status.in_([PENDING, FAILED])
        & (OutboxMessage.next_attempt_at <= param("now"))
        & free
    )


_ORDER = (OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id)
# Every pass of delivery claims: its three statements prepared (store/prepared.py), per
# count of dead tokens and of messages claimed.
_DUE = PreparedFamily(
    lambda dead: locked(
        OutboxMessage.select(OutboxMessage.id)
        .where(_due(dead))
        .order_by(*_ORDER)
        .limit(param("batch"))
        .tuples(),
        skip_locked=True,
    )
)
_LEASE = PreparedFamily(
    lambda shape: OutboxMessage.update(
        **{name: param(name, OutboxMessage._meta.fields[name]) for name in shape[0]}
    ).where(OutboxMessage.id.in_(param("ids", size=shape[1])), _due(shape[2]))
)
_CLAIMED = PreparedFamily(
    lambda n: (
        OutboxMessage.select()
        .where(
            OutboxMessage.id.in_(param("ids", size=n)), OutboxMessage.claim_token == param("token")
        )
        .order_by(*_ORDER)
    )
)


def claim(batch: int, token: str, lease_seconds: float = LEASE_SECONDS) -> list[OutboxMessage]:
    """Lease up to `batch` due messages (pending or failed, time come, no live claim). An
    attempt a dead run had begun is counted as interrupted here, before anything else."""
    if not 1 <= batch <= 1000:
        raise ValidationError("batch must be 1-1000", field="batch")
    if is_postgres() and not _hold(token):
        return []
    now = clock.now()
    with database.atomic():
        dead = _dead_tokens(now) if is_postgres() else []
        ids = [row_id for (row_id,) in _DUE(len(dead)).rows(now=now, dead=dead, batch=batch)]
        if not ids:
            return []
        values = {
            "lease_until": now + dt.timedelta(seconds=lease_seconds),
            "claim_token": token,
            **OutboxMessage.stamps(None, now),
        }
        _LEASE((tuple(values), len(ids), len(dead))).cursor(**values, ids=ids, now=now, dead=dead)
        claimed = list(_CLAIMED(len(ids)).rows(ids=ids, token=token))
        for message in claimed:
            if message.sending_since is not None:
                _count_cut_off(message, now)
        return claimed


def _count_cut_off(message: OutboxMessage, now: dt.datetime) -> None:
    """An attempt began and its outcome was never written (the sender died mid-send): it may
    have reached the client. Count it, say so in the audit trail; the caller sends again."""
    OutboxMessage.update_by(
        None, now, interrupted=OutboxMessage.interrupted + 1, sending_since=None
    ).where(OutboxMessage.id == message.id).execute()
    audit.record(
        ACTOR,
        "message.interrupted",
        "message",
        message.id,
        {
            "attempt": [None, message.attempts],
            "began": [None, message.sending_since.isoformat()],
            "key": [None, message.idempotency_key],
        },
    )
    message.interrupted += 1
    message.sending_since = None


def _begin(message: OutboxMessage, token: str, lease_seconds: float) -> bool:
    """Write the attempt down before the send (committed), and renew the lease on every
    message this run still holds: the heartbeat that keeps a live run's claims its own.
    False when another run took the message over (this run's lease ran out)."""
    now = clock.now()
    with database.atomic():
        _claimed_write({"lease_until": now + dt.timedelta(seconds=lease_seconds)}, token)
        stamped = {"sending_since": now, **OutboxMessage.stamps(None, now)}
        rows = _claimed_write(stamped, token, message.id, bump="attempts")
        if rows == 1:
            audit.record(
                ACTOR,
                "message.attempt",
                "message",
                message.id,
                {
                    "attempts": [message.attempts, message.attempts + 1],
                    "channel": [None, message.channel],
                },
            )
    if rows == 1:
        message.attempts += 1
        message.sending_since = now
    return bool(rows == 1)  # rows: peewee's execute() is untyped


def _update_query(names: tuple[str, ...], bump: str | None, by_id: bool) -> Any:
    fields = OutboxMessage._meta.fields
    values: dict[str, Any] = {name: param(name, fields[name]) for name in names}
    if bump is not None:
        values[bump] = fields[bump] + 1
    held = OutboxMessage.claim_token == param("_token", OutboxMessage.claim_token)
    if by_id:
        held = (OutboxMessage.id == param("_id", OutboxMessage.id)) & held
    else:
        # Every claimed row is pending or failed (its outcome clears the token): said here, the
        # lease renewal before each send walks the due messages' index, not the whole outbox
        # (claim_token has no index; a month's outbox was scanned ~1,000 times).
        held = OutboxMessage.status.in_([PENDING, FAILED]) & held
    return OutboxMessage.update(**values).where(held)


_UPDATES = PreparedFamily(lambda shape: _update_query(*shape))


def _claimed_write(
    values: dict[str, Any], token: str, message_id: Any = None, bump: str | None = None
) -> int:
    """Update the messages this run's claim holds (the one `message_id` names, if given),
    `bump` going up by one: prepared per set of columns, as every send writes two or three
    (store/prepared.py). Returns the row count."""
    query = _UPDATES((tuple(values), bump, message_id is not None))
    count: int = query.cursor(**values, _token=token, _id=message_id).rowcount
    return count


def lease_for(transports: Transports, lease_seconds: float = LEASE_SECONDS) -> float:
    """A lease long enough for one send: at least three of the slowest transport's timeouts
    (SMTP waits up to one each for connect, STARTTLS and the message)."""
    timeouts = [getattr(t, "timeout", 0.0) or 0.0 for t in (transports.sms, transports.email)]
    return max(lease_seconds, 3 * max(timeouts))


def _finish(message: OutboxMessage, token: str, **values: Any) -> bool:
    """Write the outcome if we still hold the claim, with its audit row (message.sent,
    .failed, .dead, or .deferred when only the time moves; the error scrubbed of the
    recipient, no body); False when another loop took it over."""
    status = values.get("status")
    changes: dict[str, Any] = {"status": [message.status, status or message.status]}
    for name in ("attempts", "last_error", "next_attempt_at", "provider_message_id"):
        if name in values:
            changes[name] = [None, audit.plain(values[name])]
    values.update(lease_until=None, claim_token=None, sending_since=None)
    values.update(OutboxMessage.stamps(None, clock.now()))
    with database.atomic():
        rows = _claimed_write(values, token, message.id, bump="version")
        if rows == 1:
            action = f"message.{status}" if status else "message.deferred"
            audit.record(ACTOR, action, "message", message.id, changes)
    return bool(rows == 1)  # rows: peewee's execute() is untyped


def mark_sent(message: OutboxMessage, token: str, provider_id: str) -> bool:
    """The transport took it (the attempt was counted when it began)."""
    return _finish(
        message,
        token,
        status=SENT,
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
    counted: bool = False,
) -> str:
    """failed with the next attempt scheduled, or dead; returns the status written.
    `counted`: the attempt was written down when it began (_begin); else it counts now."""
    attempts = message.attempts if counted else message.attempts + 1
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


_CONSENT = Prepared(  # read per message sent: its SQL built once (store/prepared.py)
    lambda: (
        Client.select(Client.consent_sms, Client.consent_email)
        .where(Client.id == param("client"))
        .limit(1)
        .tuples()
    )
)


def _consent_refusal(message: OutboxMessage) -> str | None:
    """Why the message may not go now (consent read at send time, not when queued), or None.
    Only a carrier-required answer to the client's own STOP or HELP goes without consent."""
    if message.ref_type == outbox.REPLY_REF and message.kind in consent.CARRIER_REPLIES:
        return None
    if message.ref_type == consent.JOIN_CODE_REF and message.kind == consent.JOIN_CODE_KIND:
        return None  # asked for on the page; self_join queues none to a phone that said STOP
    client = next(iter(_CONSENT.rows(client=message.client_id)), None)
    if client is None:
        return "the client is gone"
    by_channel = {outbox.SMS: client[0], outbox.EMAIL: client[1]}
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
    try:
        return _deliver_claimed(transports, batch, policy, rng, lease_seconds, token)
    finally:
        if is_postgres():
            _let_go(token)  # what is left of the claim is free now, lease or not


def _deliver_claimed(
    transports: Transports,
    batch: int,
    policy: RetryPolicy,
    rng: random.Random,
    lease_seconds: float,
    token: str,
) -> Report:
    report = Report()
    lease = lease_for(transports, lease_seconds)
    claimed = claim(batch, token, lease)
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
            clinic.code,
            message_settings.of(clinic).sms,
        )
        transport = transports.for_channel(message.channel)
        who = mask(message.recipient)
        if not _begin(message, token, lease):
            continue  # another run took it over: ours ran out of lease
        if outbox.LINK_MARK in outgoing.body:  # an offer's link, made as it goes (never kept)
            outgoing = replace(outgoing, body=offer_links.with_link(message, clinic, ACTOR))
        try:
            provider_id = transport.send(outgoing)
        except TransportError as exc:
            status = mark_failed(message, token, str(exc), exc.permanent, policy, rng, True)
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

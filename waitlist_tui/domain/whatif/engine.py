"""One simulated month on the real engine: the bound database is a copy of the clinic, the
clock is simulated (clock.simulated), and everything that happens goes through the service
functions the desk, the CLI and the SMS hook use:

- a drawn cancellation: fill.openings.cancel_appointment (its time becomes an opening), then
  fill.sending.offer with the clinic's workflow (ranking in fill.matching);
- messages: messaging.delivery.deliver_once through a transport that sends nothing, so quiet
  hours defer them and a late one is dropped as on a real clinic;
- a client's answer by SMS: messaging.replies.handle_reply (what `waitlist-tui reply` calls);
  by email link: fill.offer_replies.accept / decline; by phone: the desk's accept, or
  fill.contact_attempts.log_attempt (voicemail, no answer, declined by phone);
- deadlines: fill.ending.expire_offers at each offer's deadline, and the cron sweep
  fill.expiry.expire at each clinic midnight;
- an opening whose offers all ended (BROADCAST, or SEQUENTIAL that ran out under the daily
  cap) is offered again at once, as the desk's "offer next" does;
- new entries: waitlist.adding.add.

Whatever the engine does on accept (knock-on fill) or how it ranks (the fairness workflow)
therefore takes part in the simulation without a line here.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from peewee import SQL, fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import contact_attempts, offer_replies, offer_time
from waitlist_tui.domain.fill.ending import expire_offers, withdraw_opening
from waitlist_tui.domain.fill.expiry import expire
from waitlist_tui.domain.fill.openings import cancel_appointment
from waitlist_tui.domain.fill.sending import offer
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.messaging.delivery import deliver_once
from waitlist_tui.domain.messaging.replies import handle_reply
from waitlist_tui.domain.messaging.transports import Outgoing, Transports
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import (
    Client,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
    Provider,
)
from waitlist_tui.domain.store.prepared import Prepared, param
from waitlist_tui.domain.waitlist.adding import add
from waitlist_tui.domain.whatif.behaviour import Model, unit
from waitlist_tui.domain.whatif.world import World, cancellation_of

DESK = "simulated desk"
BOOKED_MEANWHILE = "was booked at that time meanwhile"
SMS = "sms"
LINK = "email link"
Progress = Callable[[float], None]


class NullTransport:
    """Sends nothing: the simulation's messages only need their time of sending."""

    name = "simulated"

    def send(self, message: Outgoing) -> str:
        return f"sim:{message.key}"


_TRANSPORTS = Transports(NullTransport(), NullTransport())


@dataclass
class Tally:
    """What the run counted itself (everything else is read with stats() at the end)."""

    cancellations: int = 0
    arrivals: int = 0
    answers: int = 0
    phone_calls: int = 0
    no_shows: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1


class Run:
    """The event loop of one setting on one world."""

    def __init__(self, world: World, model: Model, progress: Progress | None) -> None:
        self.world, self.model, self.progress = world, model, progress
        self.clinic = get_clinic()
        self.zone = ZoneInfo(self.clinic.time_zone)
        self.events: list[tuple[dt.datetime, int, str, Any]] = []
        self.order = itertools.count()
        self.tally = Tally()
        self.watched: dict[Any, tuple[str, Any, str, dt.datetime]] = {}  # offer id -> details
        self.last = world.start
        self.provider_codes = {p.id: p.code for p in Provider.select(Provider.id, Provider.code)}
        for c in world.cancellations:
            self.push(c.at, "cancel", c.appointment_id)
        for a in world.arrivals:
            self.push(a.at, "arrive", a.payload)
        self.push(self._next_midnight(world.start), "sweep", None)

    def _slot_key(
        self, client_id: Any, provider_id: Any, starts_at: dt.datetime
    ) -> tuple[str, str, str]:
        """What a client's answers are drawn by: the client and the slot (the provider's code
        and the start, the same in every copy of the clinic; row ids of a rebuilt demo differ)."""
        code = self.provider_codes.get(provider_id, str(provider_id))
        return (str(client_id), code, _aware(starts_at).isoformat())

    # --- scheduling ------------------------------------------------------------------------

    def push(self, at: dt.datetime, kind: str, data: Any) -> None:
        heapq.heappush(self.events, (at, next(self.order), kind, data))

    def _next_midnight(self, at: dt.datetime) -> dt.datetime:
        day = at.astimezone(self.zone).date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(0, 1), tzinfo=self.zone).astimezone(dt.UTC)

    def _desk_time(self, at: dt.datetime) -> dt.datetime:
        """The first moment at or after `at` when the desk phones (desk hours, any day)."""
        local = at.astimezone(self.zone)
        minutes = local.hour * 60 + local.minute
        day = local.date()
        if minutes >= self.model.desk_closes:
            day += dt.timedelta(days=1)
            minutes = self.model.desk_opens
        minutes = max(minutes, self.model.desk_opens)
        start = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
        return max(at, (start + dt.timedelta(minutes=minutes)).astimezone(dt.UTC))

    def _horizon(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(the next instant an offer runs out or an open opening passes its cutoff, the
        next message due): one statement, read before every step (a month has thousands)."""
        o, op, m = Offer._meta, Opening._meta, OutboxMessage._meta
        sql = (
            f'SELECT (SELECT MIN("{Offer.expires_at.column_name}") FROM "{o.table_name}" '
            f'WHERE "{Offer.status.column_name}" = %s), '
            f'(SELECT MIN("{Opening.starts_at.column_name}") FROM "{op.table_name}" '
            f'WHERE "{Opening.status.column_name}" = %s), '
            f'(SELECT MIN("{OutboxMessage.next_attempt_at.column_name}") FROM "{m.table_name}" '
            f'WHERE "{OutboxMessage.status.column_name}" IN (%s, %s))'
        )
        if not is_postgres():
            sql = sql.replace("%s", "?")
        params = (vocab.OFFER_SENT, vocab.OPENING_OPEN, outbox.PENDING, outbox.FAILED)
        expires, starts, due = database.execute_sql(sql, params).fetchone()
        times = []
        if expires is not None:
            times.append(_aware(Offer.expires_at.python_value(expires)))
        if starts is not None:
            notice = dt.timedelta(minutes=offer_time.min_notice(self.clinic))
            times.append(_aware(Opening.starts_at.python_value(starts)) - notice)
        deadline = min(times, default=None)
        delivery = _aware(OutboxMessage.next_attempt_at.python_value(due)) if due else None
        return deadline, delivery

    def _next_delivery(self) -> dt.datetime | None:
        at = _NEXT_DELIVERY.get()[0]
        return _aware(at) if at is not None else None

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> Tally:
        world = self.world
        span = (world.end - world.start).total_seconds()
        with clock.simulated(world.start) as sim:
            while True:
                deadline, delivery = self._horizon()
                candidates = [t for t in (deadline, delivery) if t]
                if self.events:
                    candidates.append(self.events[0][0])
                if not candidates:
                    break
                at = max(min(candidates), sim.at)
                if at >= world.end:
                    break
                sim.move_to(at)
                self.step(at, deadline is not None and deadline <= at)
                if self.progress:
                    self.progress((at - world.start).total_seconds() / span)
            sim.move_to(max(world.end, sim.at))
        return self.tally

    def step(self, now: dt.datetime, deadline_due: bool) -> None:
        while self.events and self.events[0][0] <= now:
            _, _, kind, data = heapq.heappop(self.events)
            getattr(self, f"on_{kind}")(data, now)
        if deadline_due:
            expire_offers(now, DESK)
        self._offer_again(now)
        self._deliver(now)
        self._watch_new_offers(now)
        self.last = now

    def _deliver(self, now: dt.datetime) -> None:
        due = self._next_delivery()
        delivered = False
        while due is not None and due <= now:
            if not deliver_once(_TRANSPORTS, batch=500).claimed:
                break
            delivered = True
            due = self._next_delivery()
        if not delivered:
            return  # a message waiting for quiet hours to end is still waiting
        for offer_id, (state, entry, match, sent_at) in list(self.watched.items()):
            if state == "message":
                self._on_message(offer_id, entry, match, sent_at, now)

    # --- events ---------------------------------------------------------------------------------

    def on_cancel(self, appointment_id: Any, now: dt.datetime) -> None:
        try:
            _, opening = cancel_appointment(appointment_id, DESK)
        except DomainError:
            self.tally.refuse("cancel")  # knock-on or the desk got there first
            return
        self.tally.cancellations += 1
        if opening is not None:
            self._offer(opening.id)

    def on_arrive(self, payload: dict[str, Any], now: dt.datetime) -> None:
        try:
            add(payload, DESK, self.clinic)
        except DomainError:
            self.tally.refuse("arrival")
            return
        self.tally.arrivals += 1

    def on_sweep(self, _: Any, now: dt.datetime) -> None:
        expire(actor=DESK)
        self.push(self._next_midnight(now), "sweep", None)

    def on_reply(self, data: tuple[Any, str, str, bool], now: dt.datetime) -> None:
        offer_id, channel, phone, yes = data
        self.tally.answers += 1
        said = ""
        try:
            if channel == "sms":
                text = "YES" if yes else "NO"
                said = handle_reply(phone, text, SMS, self.clinic.code, str(offer_id)).detail
            elif yes:
                offer_replies.accept(offer_id, LINK)
            else:
                offer_replies.decline(offer_id, LINK)
        except DomainError as err:
            self.tally.refuse("reply")
            said = err.message
        if BOOKED_MEANWHILE in said:
            self._close_opening_of(offer_id)

    def _close_opening_of(self, offer_id: Any) -> None:
        """A YES found the provider booked at that time (a calendar took it): the desk closes
        the opening, as the refusal tells it to."""
        opening_id = Offer.get_by_id(offer_id).opening_id
        try:
            withdraw_opening(opening_id, DESK, "provider booked meanwhile")
        except DomainError:
            return
        self.tally.refuse("opening_booked_meanwhile")

    def on_call(self, data: tuple[Any, Any, str, int], now: dt.datetime) -> None:
        """The desk phones about an offer that went by no message."""
        offer_id, client_id, match, attempt = data
        row = next(iter(_CALLED.rows(offer=offer_id)), None)
        if row is None or row[0] != vocab.OFFER_SENT:
            return
        _, provider_id, starts_at = row
        self.tally.phone_calls += 1
        key = self._slot_key(client_id, provider_id, starts_at)
        last = attempt + 1 >= self.model.phone_attempts
        try:
            if unit(self.world.seed, "reach", key, attempt) < self.model.phone_reach:
                hours = (_aware(starts_at) - now).total_seconds() / 3600
                if unit(self.world.seed, "accept", key) < self.model.accept_probability(
                    match, hours
                ):
                    offer_replies.accept(offer_id, DESK)
                else:
                    contact_attempts.log_attempt(offer_id, contact_attempts.DECLINED_BY_PHONE, DESK)
                return
            outcome = contact_attempts.NO_ANSWER if last else contact_attempts.VOICEMAIL
            contact_attempts.log_attempt(offer_id, outcome, DESK)
        except DomainError as err:
            self.tally.refuse("call")
            if BOOKED_MEANWHILE in err.message:
                self._close_opening_of(offer_id)
            return
        if not last:
            at = self._desk_time(now + dt.timedelta(minutes=self.model.phone_gap_minutes))
            self.push(at, "call", (offer_id, client_id, match, attempt + 1))

    # --- offers --------------------------------------------------------------------------------

    def _offer(self, opening_id: Any) -> None:
        try:
            offer(opening_id, DESK)
        except DomainError:
            self.tally.refuse("offer")

    def _watch_new_offers(self, now: dt.datetime) -> None:
        """Offers sent since the last step: each waits for its message, or for the desk's call."""
        rows: Any = _SENT_SINCE.rows(last=self.last)
        for offer_id, entry_id, match, sent_at in rows:
            if offer_id not in self.watched:
                self.watched[offer_id] = ("message", entry_id, match, _aware(sent_at))
                self._on_message(offer_id, entry_id, match, _aware(sent_at), now)

    def _on_message(
        self, offer_id: Any, entry_id: Any, match: str, sent_at: dt.datetime, now: dt.datetime
    ) -> None:
        message = next(iter(_MESSAGE.rows(key=outbox.offer_key(offer_id, "offer"))), None)
        if message is not None and message.status in (outbox.PENDING, outbox.FAILED):
            return  # waits for quiet hours to end, or for its retry (its parties read then)
        provider_id, starts_at, client_id, phone = _OFFER_PARTIES.get(offer=offer_id)
        key = self._slot_key(client_id, provider_id, starts_at)
        self.watched[offer_id] = ("done", entry_id, match, sent_at)
        if message is None or message.status != outbox.SENT:
            at = self._desk_time(now)
            self.push(at, "call", (offer_id, client_id, match, 0))
            return
        got = _aware(message.sent_at)
        seed = self.world.seed
        if unit(seed, "respond", key) >= self.model.respond_probability(message.channel):
            return  # silence: the hold runs out
        hours = (_aware(starts_at) - got).total_seconds() / 3600
        yes = unit(seed, "accept", key) < self.model.accept_probability(match, hours)
        delay = dt.timedelta(minutes=self.model.delay_minutes(unit(seed, "delay", key)))
        self.push(got + delay, "reply", (offer_id, message.channel, phone or "", yes))

    def _offer_again(self, now: dt.datetime) -> None:
        """Openings whose last offers ended in this step and that hold no live offer now: the
        desk offers them again (BROADCAST's next round; SEQUENTIAL when the chain stopped)."""
        for (opening_id,) in _ENDED_OPENINGS.rows(last=self.last):
            self._offer(opening_id)


# The loop's own reads, run at every step (a month has thousands): their SQL built once.
_NEXT_DELIVERY = Prepared(
    lambda: (
        OutboxMessage.select(fn.MIN(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status.in_([outbox.PENDING, outbox.FAILED]))
        .tuples()
    )
)
_SENT_SINCE = Prepared(
    lambda: (
        Offer.select(Offer.id, Offer.entry, Offer.match_type, Offer.sent_at)
        .where(Offer.status == vocab.OFFER_SENT, Offer.sent_at >= param("last"))
        .tuples()
    )
)
_MESSAGE = Prepared(
    lambda: OutboxMessage.select().where(OutboxMessage.idempotency_key == param("key")).limit(1)
)
_OFFER_PARTIES = Prepared(  # what a client's answer is drawn by, and the phone it comes from
    lambda: (
        Offer.select(Opening.provider, Opening.starts_at, Client.id, Client.phone)
        .join(Opening)
        .switch(Offer)
        .join(Entry)
        .join(Client)
        .where(Offer.id == param("offer"))
        .limit(1)
        .tuples()
    )
)
_CALLED = Prepared(  # the offer the desk phones about, and its slot
    lambda: (
        Offer.select(Offer.status, Opening.provider, Opening.starts_at)
        .join(Opening)
        .where(Offer.id == param("offer"))
        .limit(1)
        .tuples()
    )
)
_ENDED_OPENINGS = Prepared(  # from the few open openings, each probing its own offers by
    lambda: (  # index (an IN list of every offer answered since scanned the whole offer table)
        Opening.select(Opening.id)
        .where(
            Opening.status == vocab.OPENING_OPEN,
            # first the probe the index answers alone: most open openings have an offer out
            ~fn.EXISTS(
                Offer.select(SQL("1")).where(
                    Offer.opening == Opening.id, Offer.status == vocab.OFFER_SENT
                )
            ),
            fn.EXISTS(
                Offer.select(SQL("1")).where(
                    Offer.opening == Opening.id,
                    Offer.responded_at >= param("last"),
                    Offer.status != vocab.OFFER_ACCEPTED,
                )
            ),
        )
        .order_by(Opening.starts_at, Opening.id)
        .tuples()
    )
)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def no_shows(model: Model, seed: int, since: dt.datetime) -> int:
    """Fills the clients would not come to [HP]: drawn per booked entry, the same entry and
    slot drawing the same in every setting."""
    from waitlist_tui.domain.store.models import Appointment

    rows: Any = (
        Appointment.select(Appointment.entry, Appointment.starts_at)
        .where(Appointment.entry.is_null(False), Appointment.created_at >= since)
        .tuples()
    )
    return sum(
        unit(seed, "no_show", entry_id, _aware(starts).isoformat()) < model.no_show_rate
        for entry_id, starts in rows
    )


__all__ = ["DESK", "Run", "Tally", "cancellation_of", "no_shows"]

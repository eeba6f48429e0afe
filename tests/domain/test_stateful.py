"""A stateful property test of the life cycles: random desks add, offer (both workflows),
accept, decline, rescind, expire with time moving, and cancel, and after every step the
invariants of DESIGN.md section 3 hold in the database.

Domain refusals are part of the game, so a step that is refused passes; the run counts what
succeeded, and fails when some action never once succeeded over all its examples (an accept
that always failed would otherwise leave every invariant trivially true)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from peewee import fn

from tests.conftest import FROZEN, STAFF, entry_payload
from tests.timetravel import frozen_at
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import offers, openings
from waitlist_tui.domain.store import invariants
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.maintenance import wipe
from waitlist_tui.domain.store.models import Appointment, Clinic, Entry, Offer, Opening
from waitlist_tui.domain.waitlist import adding, changes

ENTRY_MOVES = {
    ("waiting", "offered"),
    ("offered", "booked"),
    ("offered", "waiting"),
    ("waiting", "cancelled"),
    ("offered", "cancelled"),
    ("waiting", "expired"),
    ("offered", "expired"),
}
OFFER_MOVES = {("sent", s) for s in ("accepted", "declined", "expired", "rescinded")}
SERVICES = ("PT-EVAL", "PT-FU")
# What each action did over a whole run (every example): "fired" counts successes only.
ACTIONS = (
    "add",
    "open",
    "offer",
    "accept",
    "decline",
    "rescind",
    "stale accept refused",
    "expire",
    "cancel",
)
FIRED: Counter[str] = Counter()
TRIED: Counter[str] = Counter()
TIMES = [
    f"2026-11-{d}T{h:02d}:{m:02d}"
    for d in (23, 24)
    for h in (8, 9, 10, 11, 13, 14, 15, 16)
    for m in (0,)
]


def _any(condition) -> bool:
    """Whether a row of the condition's table matches (a rule's precondition)."""
    model = condition.lhs.model
    return model.select().where(condition).exists()


class Desk(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        with database.atomic():
            wipe()
        self.now = FROZEN
        with self.clock():
            apply_setup(demo_clinic(), STAFF)
        self.names = itertools.count()
        self.free_times = list(TIMES)
        self.entry_status: dict = {}
        self.offer_status: dict = {}
        # Ids in the order they were made: picking by position keeps draws independent of the
        # random UUIDs, so hypothesis can replay and shrink.
        self.entry_ids: list = []
        self.opening_ids: list = []
        self.offer_ids: list = []

    def pick(self, data, ids: list, status_of, wanted: set[str]):
        live = [i for i in ids if status_of(i) in wanted]
        if not live:
            return None
        return live[data.draw(st.integers(0, 1000)) % len(live)]

    def clock(self):
        return frozen_at(self.now)

    def attempt(self, action: str, call, *args, **kwargs):
        """Domain refusals are part of the game; anything else fails the test. Each call a
        second after the last: offers made in two steps never share a deadline, so the order
        expiry meets them in (ties go by random id) cannot differ between replays. A call that
        returns counts as `action` fired; the caller may take it back (`fired`) when what it
        returned shows nothing happened."""
        self.now = self.now + dt.timedelta(seconds=1)
        TRIED[action] += 1
        with self.clock():
            try:
                result = call(*args, **kwargs)
            except DomainError:
                return None
        FIRED[action] += 1
        return result

    def fired(self, action: str, happened: bool) -> None:
        """Take back a success that changed nothing (an offer sent to nobody, no expiry)."""
        if not happened:
            FIRED[action] -= 1

    @initialize(count=st.integers(3, 8), slots=st.integers(1, 4))
    def a_busy_morning(self, count: int, slots: int) -> None:
        """Start with people waiting and slots open and offered (both workflows), so every
        step (a reply, an expiry) has something to act on from the first: a run then exercises
        each reply many times over, and counting what succeeded is not left to luck."""
        for i in range(count):
            self.add(SERVICES[i % 2], 1 + i % 5, i % 3 == 0, i % 2 == 0)
        for _ in range(slots):
            self.open_slot(60)
        for i, opening in enumerate(self.opening_ids):
            workflow = "BROADCAST" if i % 2 == 0 else "SEQUENTIAL"
            sent = self.attempt("first offers", offers.offer, opening, STAFF, workflow=workflow)
            self.offer_ids.extend(o.id for o in sent or [])

    @rule(
        service=st.sampled_from(SERVICES),
        priority=st.integers(1, 5),
        monday=st.booleans(),
        morning=st.booleans(),
    )
    def add(self, service: str, priority: int, monday: bool, morning: bool) -> None:
        n = next(self.names)
        # A second apart: with a frozen clock, equal creation times would leave the ranking to
        # random ids, and hypothesis needs every replay of a case to go the same way.
        self.now = self.now + dt.timedelta(seconds=1)
        payload = entry_payload(
            client={"first_name": f"C{n}", "last_name": "Prop", "phone": f"617-555-{n:04d}"},
            service=service,
            priority=priority,
            preferred_providers=[],
            preferred_days=["MONDAY"] if monday else [],
            preferred_time_slots=["MORNING"] if morning else [],
            date_range_start="2026-11-21",
            date_range_end="2026-12-15",
        )
        view = self.attempt("add", adding.create, payload, STAFF)
        if view is not None:
            self.entry_ids.append(view.id)

    @precondition(lambda self: self.free_times)
    @rule(minutes=st.sampled_from((30, 60)))
    def open_slot(self, minutes: int) -> None:
        start = self.free_times.pop(0)
        opening = self.attempt("open", openings.add_opening, "KIM", start, minutes, STAFF)
        if opening is not None:
            self.opening_ids.append(opening.id)

    # Preconditions keep steps for rules that have something to act on (a reply needs a sent
    # offer): without them most replies were no-ops, and a run could end with no accept at all.
    @precondition(lambda self: _any(Opening.status == "open"))
    @rule(data=st.data(), broadcast=st.booleans(), top=st.integers(1, 4))
    def offer(self, data, broadcast: bool, top: int) -> None:
        opening = self.pick(data, self.opening_ids, lambda i: Opening.get_by_id(i).status, {"open"})
        if opening is not None:
            sent = self.attempt(
                "offer",
                offers.offer,
                opening,
                STAFF,
                workflow="BROADCAST" if broadcast else "SEQUENTIAL",
                top=top,
            )
            if sent is not None:
                self.fired("offer", bool(sent))
            self.offer_ids.extend(o.id for o in sent or [])

    def offer_status_now(self, offer_id) -> str:
        return Offer.get_by_id(offer_id).status

    # One rule per reply (not one rule drawing the reply): each gets its own share of steps,
    # enough that every reply succeeds many times in a run on either backend.
    @precondition(lambda self: _any(Offer.status == "sent"))
    @rule(data=st.data())
    def accept(self, data) -> None:
        self.respond(data, "accept")

    @precondition(lambda self: _any(Offer.status == "sent"))
    @rule(data=st.data())
    def decline(self, data) -> None:
        self.respond(data, "decline")

    @precondition(lambda self: _any(Offer.status == "sent"))
    @rule(data=st.data())
    def rescind(self, data) -> None:
        self.respond(data, "rescind")

    def respond(self, data, reply: str) -> None:
        offer_id = self.pick(data, self.offer_ids, self.offer_status_now, {"sent"})
        if offer_id is not None:
            result = self.attempt(reply, getattr(offers, reply), offer_id, STAFF)
            if result is not None:
                self.offer_ids.extend(o.id for o in result.next_offers)

    @precondition(lambda self: _any(Offer.status != "sent"))
    @rule(data=st.data())
    def accept_stale(self, data) -> None:
        """An old offer (not sent any more) accepted late: must change nothing."""
        done = self.pick(
            data,
            self.offer_ids,
            self.offer_status_now,
            {"accepted", "declined", "expired", "rescinded"},
        )
        if done is not None:
            before = (
                Appointment.select().count(),
                Offer.select().where(Offer.status == "accepted").count(),
            )
            assert self.attempt("stale accept", offers.accept, done, STAFF) is None
            FIRED["stale accept refused"] += 1
            assert before == (
                Appointment.select().count(),
                Offer.select().where(Offer.status == "accepted").count(),
            )

    @rule(minutes=st.integers(1, 90))
    def time_passes(self, minutes: int) -> None:
        self.now = self.now + dt.timedelta(minutes=minutes)
        self.expire()

    @precondition(lambda self: _any(Offer.status == "sent"))
    @rule()
    def holds_run_out(self) -> None:
        """Nobody answers: the clock moves past every sent offer's hold. Small steps of
        time_passes rarely add up to it before a reply comes."""
        hold = Clinic.get().offer_hold_minutes
        self.now = self.now + dt.timedelta(minutes=hold + 1)
        self.expire()

    def expire(self) -> None:
        ended = self.attempt("expire", offers.expire_offers)
        if ended is not None:
            self.fired("expire", ended["offers_expired"] > 0)
        self.learn_new_offers()

    def learn_new_offers(self) -> None:
        """Expiry and cancelling advance sequential openings: learn the offers they sent, in
        an order that does not depend on random ids (by opening made, then entry made)."""
        known = set(self.offer_ids)
        fresh = list(
            Offer.select(Offer.id, Offer.opening, Entry.created_at)
            .join(Entry)
            .where(Offer.status == "sent")
            .order_by(Entry.created_at)
        )
        for opening_id in self.opening_ids:
            self.offer_ids.extend(
                o.id for o in fresh if o.opening_id == opening_id and o.id not in known
            )

    @precondition(lambda self: _any(Entry.status.in_(("waiting", "offered"))))
    @rule(data=st.data())
    def cancel(self, data) -> None:
        entry_id = self.pick(
            data, self.entry_ids, lambda i: Entry.get_by_id(i).status, {"waiting", "offered"}
        )
        if entry_id is not None:
            self.attempt("cancel", changes.cancel, entry_id, STAFF)
            self.learn_new_offers()

    @invariant()
    def one_fill_per_opening(self) -> None:
        accepted = (
            Offer.select(Offer.opening, fn.COUNT(Offer.id))
            .where(Offer.status == "accepted")
            .group_by(Offer.opening)
            .tuples()
        )
        assert all(count == 1 for _, count in accepted)
        for opening in Opening.select().where(Opening.status == "filled"):
            booked = (
                Appointment.select()
                .where(
                    Appointment.provider == opening.provider,
                    Appointment.starts_at == opening.starts_at,
                    Appointment.status == "booked",
                )
                .count()
            )
            assert booked == 1

    @invariant()
    def one_live_offer_per_entry_and_statuses_agree(self) -> None:
        sent = dict(
            Offer.select(Offer.entry, fn.COUNT(Offer.id))
            .where(Offer.status == "sent")
            .group_by(Offer.entry)
            .tuples()
        )
        assert all(count == 1 for count in sent.values())
        for entry in Entry.select(Entry.id, Entry.status):
            assert (entry.status == "offered") == (entry.id in sent)
            appointments = Appointment.select().where(Appointment.entry == entry.id).count()
            assert appointments == (1 if entry.status == "booked" else 0)

    @invariant()
    def the_domains_own_check_agrees(self) -> None:
        assert invariants.problems(stats=False) == []

    @invariant()
    def statuses_move_along_the_life_cycles(self) -> None:
        for entry_id, status in Entry.select(Entry.id, Entry.status).tuples():
            before = self.entry_status.get(entry_id)
            assert before in (None, status) or (before, status) in ENTRY_MOVES, (before, status)
            self.entry_status[entry_id] = status
        for offer_id, status in Offer.select(Offer.id, Offer.status).tuples():
            before = self.offer_status.get(offer_id)
            assert before in (None, status) or (before, status) in OFFER_MOVES, (before, status)
            self.offer_status[offer_id] = status


def test_life_cycles_hold_under_random_desks(db, backend: str) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    examples = 60 if backend == "sqlite" else 25
    FIRED.clear()
    TRIED.clear()
    run_state_machine_as_test(
        Desk,
        settings=settings(
            max_examples=examples,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    never = [action for action in ACTIONS if FIRED[action] <= 0]
    assert not never, (
        f"never succeeded over {examples} examples: {never} "
        f"(succeeded {dict(FIRED)}, tried {dict(TRIED)})"
    )

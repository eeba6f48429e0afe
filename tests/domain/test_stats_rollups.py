"""The stats rollups against the raw tables, on SQLite and PostgreSQL.

A stateful property test drives every write path the triggers must follow (entries added,
updated, cancelled, imported; offers sent both ways, accepted, declined, rescinded, expired;
openings typed in; appointments cancelled; expiry; history written straight into the tables;
rows deleted and re-linked by hand) with the clock moving across days, weeks and the end of
daylight saving time. After every step, stats from the rollups equal stats from the raw
tables for every period and provider filter below, and the rollup tables equal a rebuild from
the rows. Focused tests cover what the machine does not reach.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.conftest import STAFF, entry_payload
from tests.timetravel import frozen_at
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import expiry, offers, openings
from waitlist_tui.domain.stats.report import stats
from waitlist_tui.domain.store import demand_columns, rollup_rebuild, rollup_sql, rollups
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.maintenance import wipe
from waitlist_tui.domain.store.models import (
    Appointment,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.waitlist import adding, changes, exchange

# Wednesday 2026-10-28, 10:00 in New York; clocks go back on Sunday 2026-11-01.
START = pendulum.datetime(2026, 10, 28, 14, 0, tz="UTC")
FILTERS: list[dict[str, Any]] = [
    {},
    {"provider": "KIM"},
    {"provider": "OKAFOR"},
    {"since": "2026-10-28"},
    {"until": "2026-10-31"},
    {"since": "2026-10-29", "until": "2026-11-02"},  # across the change of offset
    {"since": "2026-11-01", "until": "2026-11-01", "provider": "PATEL"},
    {"since": "2026-10-20", "until": "2026-12-31", "provider": "KIM"},
]
SERVICES = ("PT-EVAL", "PT-FU", "MASSAGE", "ACU")
EXAMPLES = int(os.environ.get("WAITLIST_ROLLUP_EXAMPLES", "20"))
PROVIDERS = ("KIM", "PATEL", "OKAFOR", "LINDQVIST")


def assert_rollups_match_a_rebuild() -> None:
    kept = rollup_rebuild.state()
    with database.atomic() as tx:
        rollup_rebuild.rebuild()
        rebuilt = rollup_rebuild.state()
        tx.rollback()
    assert kept[1] == rebuilt[1]
    assert kept[0] == rebuilt[0]
    assert_demand_columns_match_a_refill()


def assert_demand_columns_match_a_refill() -> None:
    """entry.provider_ids and ever_offered (kept by triggers) as a refill from the links and
    offers makes them."""
    sql = "SELECT id, provider_ids, ever_offered FROM entry ORDER BY id"
    kept = database.execute_sql(sql).fetchall()
    with database.atomic() as tx:
        demand_columns.refill(rollups.dialect())
        refilled = database.execute_sql(sql).fetchall()
        tx.rollback()
    assert kept == refilled


def assert_same_figures(clinic: Clinic, filters: list[dict[str, Any]]) -> None:
    for kwargs in filters:
        fast = stats(clinic, source="rollup", **kwargs).to_dict()
        slow = stats(clinic, source="raw", **kwargs).to_dict()
        assert fast == slow, kwargs


class Desks(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        with database.atomic():
            wipe()
        self.now = START
        with self.clock():
            apply_setup(demo_clinic(), STAFF)
        self.clinic = get_clinic()
        self.names = itertools.count()
        self.tmp = Path(pytest_tmp_dir())

    def clock(self):
        return frozen_at(self.now)

    def attempt(self, call, *args, **kwargs):
        """Domain refusals are part of the game; anything else fails the test."""
        with self.clock():
            try:
                return call(*args, **kwargs)
            except DomainError:
                return None

    def pick(self, data, model, *conds):
        """A row by position in creation order. The draw comes first and always happens:
        hypothesis replays a case by its draws, so they must not depend on what the tables
        hold (an empty table that skipped the draw made a replay diverge)."""
        position = data.draw(st.integers(0, 1000))
        made = model.sent_at if model is Offer else model.created_at
        query = model.select(model.id).order_by(made, model.id)
        ids = [r.id for r in (query.where(*conds) if conds else query)]
        return ids[position % len(ids)] if ids else None

    def payload(self, service: str, priority: int, original: int | None) -> dict[str, Any]:
        n = next(self.names)
        self.now = self.now + dt.timedelta(seconds=1 + n % 7)
        payload = entry_payload(
            client={"first_name": f"C{n}", "last_name": "Roll", "phone": f"617-555-{n:04d}"},
            service=service,
            priority=priority,
            preferred_providers=[],
            preferred_days=[],
            preferred_time_slots=[],
        )
        for key in ("date_range_start", "date_range_end"):
            payload.pop(key)
        if original is not None:
            at = self.now + dt.timedelta(days=original, minutes=7 * original)
            payload["original_appointment_at"] = at.to_iso8601_string()
        return payload

    @initialize(count=st.integers(2, 6))
    def a_busy_morning(self, count: int) -> None:
        for i in range(count):
            self.add(SERVICES[i % 4], 1 + i % 5, (i * 5) % 40 - 5 if i % 2 else None)
        for day in (1, 2):
            self.open_slot("KIM", day, 10, None)

    @rule(
        service=st.sampled_from(SERVICES),
        priority=st.integers(1, 5),
        original=st.none() | st.integers(-10, 40),
    )
    def add(self, service: str, priority: int, original: int | None) -> None:
        self.attempt(adding.create, self.payload(service, priority, original), STAFF)

    @rule(rows=st.lists(st.tuples(st.sampled_from(SERVICES), st.booleans()), max_size=4),
          skip=st.booleans())  # fmt: skip
    def import_file(self, rows: list[tuple[str, bool]], skip: bool) -> None:
        """Some rows invalid: all or nothing, or the valid ones."""
        items = []
        for service, valid in rows:
            item = self.payload(service, 3, None)
            if not valid:
                item["payment_type"] = "BARTER"
            items.append(item)
        path = self.tmp / f"import-{next(self.names)}.json"
        path.write_text(json.dumps(items))
        self.attempt(exchange.import_file, path, STAFF, skip_invalid=skip)

    @rule(data=st.data(), service=st.sampled_from(SERVICES), priority=st.integers(1, 5))
    def update(self, data, service: str, priority: int) -> None:
        entry_id = self.pick(data, Entry, Entry.status.in_(["waiting", "offered"]))
        if entry_id is not None:
            version = Entry.get_by_id(entry_id).version
            change = {"priority": priority, "service": service, "version": version}
            self.attempt(changes.update, entry_id, change, STAFF)

    @rule(data=st.data())
    def cancel(self, data) -> None:
        entry_id = self.pick(data, Entry, Entry.status.in_(["waiting", "offered"]))
        if entry_id is not None:
            self.attempt(changes.cancel, entry_id, STAFF)

    @rule(
        provider=st.sampled_from(PROVIDERS),
        day=st.integers(1, 6),
        hour=st.integers(8, 16),
        service=st.none() | st.sampled_from(SERVICES),
    )
    def open_slot(self, provider: str, day: int, hour: int, service: str | None) -> None:
        local = self.now.in_tz("America/New_York").add(days=day)
        start = f"{local.to_date_string()}T{hour:02d}:00"
        self.attempt(openings.add_opening, provider, start, 60, STAFF, service=service)

    @rule(data=st.data(), broadcast=st.booleans(), top=st.integers(1, 3))
    def offer(self, data, broadcast: bool, top: int) -> None:
        opening_id = self.pick(data, Opening, Opening.status == "open")
        if opening_id is not None:
            flow = "BROADCAST" if broadcast else "SEQUENTIAL"
            self.attempt(offers.offer, opening_id, STAFF, workflow=flow, top=top)

    @rule(data=st.data(), reply=st.sampled_from(("accept", "accept", "decline", "rescind")))
    def respond(self, data, reply: str) -> None:
        offer_id = self.pick(data, Offer, Offer.status == "sent")
        if offer_id is not None:
            self.attempt(getattr(offers, reply), offer_id, STAFF)

    @rule(data=st.data())
    def cancel_appointment(self, data) -> None:
        appointment_id = self.pick(data, Appointment, Appointment.status == "booked")
        if appointment_id is not None:
            self.attempt(openings.cancel_appointment, appointment_id, STAFF)

    @rule(minutes=st.sampled_from((1, 17, 45, 130, 24 * 60 - 7, 3 * 24 * 60 + 11)))
    def time_passes(self, minutes: int) -> None:
        self.now = self.now + dt.timedelta(minutes=minutes)
        self.attempt(offers.expire_offers)

    @rule(days=st.integers(1, 60))
    def expire(self, days: int) -> None:
        self.attempt(expiry.expire, older_than_days=days)

    @rule(
        service=st.sampled_from(SERVICES),
        status=st.sampled_from(("booked", "waiting", "expired", "cancelled")),
        back=st.integers(0, 90 * 24 * 60),
        waited=st.none() | st.integers(0, 20 * 24 * 60),
        original=st.none() | st.integers(-20, 40),
    )
    def history(self, service, status, back, waited, original) -> None:
        """Rows written straight into the tables, as an import of old history would: any
        creation time (on the hour, so that some sit on bucket edges), booked without an
        appointment, and an opening typed in without a service."""
        moment = self.now - dt.timedelta(minutes=back)
        created = dt.datetime(*moment.timetuple()[:5], tzinfo=dt.UTC)  # on the minute
        booked = created + dt.timedelta(minutes=waited) if waited is not None else None
        client = Client.select().first() or self._client()
        what = Service.get(Service.code == service)
        Entry.create(
            clinic=self.clinic,
            client=client,
            service=what,
            status=status,
            payment_type="SELF_PAY",
            appointment_type=what.appointment_type,
            date_range_start=created.date(),
            date_range_end=created.date() + dt.timedelta(days=30),
            original_appointment_at=created + dt.timedelta(days=original) if original else None,
            created_at=created,
            updated_at=created,
            status_changed_at=created,
            booked_at=booked if status == "booked" else None,
            created_by=STAFF,
            updated_by=STAFF,
        )
        Opening.create(
            clinic=self.clinic,
            provider=Provider.get(Provider.code == PROVIDERS[back % 4]),
            service=None,
            starts_at=created + dt.timedelta(days=2),
            ends_at=created + dt.timedelta(days=2, hours=1),
            status="filled" if waited else "closed",
            created_at=created,
            updated_at=created,
            filled_at=booked,
            created_by=STAFF,
            updated_by=STAFF,
        )

    def _client(self) -> Client:
        return Client.create(
            clinic=self.clinic,
            first_name="Old",
            last_name="History",
            created_at=self.now,
            updated_at=self.now,
            created_by=STAFF,
            updated_by=STAFF,
        )

    @rule(data=st.data(), what=st.sampled_from(("entry", "opening", "offer", "appointment")))
    def delete(self, data, what: str) -> None:
        """By hand: cascades (offers of an entry or opening) and SET NULL (appointments)."""
        model = {"entry": Entry, "opening": Opening, "offer": Offer, "appointment": Appointment}
        row_id = self.pick(data, model[what])
        if row_id is not None:
            with database.atomic():
                model[what].delete().where(model[what].id == row_id).execute()

    @rule(data=st.data(), provider=st.sampled_from(PROVIDERS), days=st.integers(-3, 3))
    def relink(self, data, provider: str, days: int) -> None:
        """By hand: an appointment moved to another provider, time and booked entry."""
        appointment_id = self.pick(data, Appointment, Appointment.entry.is_null(False))
        entry_id = self.pick(data, Entry, Entry.status == "booked")
        if appointment_id is not None:
            appointment = Appointment.get_by_id(appointment_id)
            Appointment.update(
                provider=Provider.get(Provider.code == provider),
                starts_at=appointment.starts_at + dt.timedelta(days=days),
                entry=entry_id,
            ).where(Appointment.id == appointment_id).execute()

    @rule(status=st.sampled_from(("expired", "rescinded")))
    def many_at_once(self, status: str) -> None:
        """One statement over many rows (triggers fire per row; PostgreSQL's after the
        statement, so each sees the others' changes)."""
        Offer.update(status=status).where(Offer.status == "sent").execute()
        Entry.update(status="booked", booked_at=self.now).where(Entry.status == "offered").execute()

    @rule(service=st.sampled_from(SERVICES))
    def reattribute(self, service: str) -> None:
        """By hand: an opening's service changes, and its offers follow it."""
        first = Opening.select().order_by(Opening.id).first()
        if first is not None:
            Opening.update(service=Service.get(Service.code == service)).where(
                Opening.id == first.id
            ).execute()

    @rule()
    def compact(self) -> None:
        rollups.compact(force=True)

    @invariant()
    def rollups_give_the_raw_figures(self) -> None:
        with self.clock():
            assert_same_figures(self.clinic, FILTERS)
        assert_rollups_match_a_rebuild()


_TMP: list[Path] = []


def pytest_tmp_dir() -> Path:
    return _TMP[-1]


def test_rollups_follow_every_write(db, backend: str, tmp_path: Path) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    _TMP.append(tmp_path)
    run_state_machine_as_test(
        Desks,
        settings=settings(
            max_examples=EXAMPLES if backend == "sqlite" else max(1, EXAMPLES // 3),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


# --- focused cases --------------------------------------------------------------------------


def _rollup_rows(backend: str) -> tuple[list[tuple], list[tuple]]:
    """Both rollup tables row by row, with each value's stored type on SQLite (the points in
    the order they were written): equal only if every value is the same to the bit."""
    if backend != "sqlite":
        counts = database.execute_sql("SELECT * FROM stats_count ORDER BY 1, 2, 3, 4, 5, 6, 7, 8")
        points = database.execute_sql("SELECT * FROM stats_point ORDER BY 1, 2, 3")
        return list(counts), sorted(points)
    typed = ", ".join(f"{c}, typeof({c})" for c in rollup_sql.COUNT_COLUMNS.split(", "))
    counts = database.execute_sql(
        f"SELECT {typed} FROM stats_count ORDER BY {rollup_sql.COUNT_KEY}"
    )
    typed = ", ".join(f"{c}, typeof({c})" for c in rollup_sql.POINT_COLUMNS.split(", "))
    points = database.execute_sql(f"SELECT rowid, {typed} FROM stats_point ORDER BY rowid")
    return list(counts), list(points)


# The clock's fraction of a second reaches every generated time: whole seconds, a fraction
# that rounds half a millisecond up, one just under a whole second, an ordinary one.
@pytest.mark.parametrize(
    "now",
    [
        "2026-11-20T14:30:00Z",
        "2026-11-20T14:30:00.000500Z",
        "2026-03-08T06:59:59.999500Z",
        "2026-11-01T05:41:48.123456Z",
    ],
)
def test_demo_build_fills_the_rollups_as_a_rebuild_would(db, backend: str, now: str) -> None:
    """The demo works its rollups out in Python (on SQLite, in the generating process): the
    very rows a rebuild from the tables writes, every fact at every level, each point's value
    and bin to the bit; and the same figures as the raw queries."""
    from waitlist_tui.demo import build as demo

    with frozen_at(pendulum.parse(now)):
        demo.build(entries=400, seed=3)
        built = _rollup_rows(backend)
        with database.atomic() as tx:
            rollup_rebuild.rebuild()
            rebuilt = _rollup_rows(backend)
            tx.rollback()
        assert built[1] == rebuilt[1]
        assert built[0] == rebuilt[0]
        assert_demand_columns_match_a_refill()
        assert database.execute_sql(
            "SELECT COUNT(*) FROM entry WHERE provider_ids IS NOT NULL"
        ).fetchone()[0]
        facts = database.execute_sql("SELECT DISTINCT fact, lvl FROM stats_count").fetchall()
        assert {fact for fact, _ in facts} == set(range(1, 9))  # every fact, every level
        assert {lvl for _, lvl in facts} == {0, 1, 2}
        for kind, known in ((rollup_sql.PAIR, "sooner"), (rollup_sql.FILL, "v")):
            sql = f"SELECT COUNT(*) FROM stats_point WHERE kind = {kind} AND {known} IS NOT NULL"
            assert database.execute_sql(sql).fetchone()[0] > 0  # values, and so bins
        clinic = get_clinic()
        assert_same_figures(clinic, FILTERS[:4])
        assert stats(clinic).to_dict()["total"] == 400


def _entry_at(clinic: Clinic, created: str, status: str = "waiting") -> Entry:
    from tests.domain.test_stats import History

    return History(clinic).entry("PT-EVAL", status, created)


def test_a_quarter_hour_zone_reads_the_rollups(clinic: Clinic) -> None:
    """Kathmandu is UTC+05:45: its days start at 18:15 UTC, on a 15-minute bucket's edge."""
    Clinic.update(time_zone="Asia/Kathmandu").where(Clinic.id == clinic.id).execute()
    clinic = Clinic.get_by_id(clinic.id)
    _entry_at(clinic, "2026-11-10T18:14:59Z")  # Nov 10, 23:59:59 local
    _entry_at(clinic, "2026-11-10T18:15:00Z")  # Nov 11, 00:00 local
    _entry_at(clinic, "2026-11-11T18:14:00Z")  # Nov 11, 23:59 local
    from waitlist_tui.domain.stats import from_rollups as stats_rollup
    from waitlist_tui.domain.stats.figures import Scope

    day = stats(clinic, "2026-11-11", "2026-11-11").to_dict()
    assert day["total"] == 2
    assert day == stats(clinic, "2026-11-11", "2026-11-11", source="raw").to_dict()
    bounds = [dt.datetime(2026, 11, 10, 18, 15)]
    assert stats_rollup.readable(Scope(clinic, [], None, None, None, bounds, []))


def test_bounds_off_the_quarter_hour_read_the_raw_tables(clinic: Clinic) -> None:
    """Monrovia kept UTC-0:44:30 until 1972: such a day starts off any 15-minute bucket, so
    stats read the tables, and still count right. (New York's local mean time of 1880 did
    this before dates were held to 1900-2100.)"""
    Clinic.update(time_zone="Africa/Monrovia").where(Clinic.id == clinic.id).execute()
    clinic = Clinic.get_by_id(clinic.id)
    _entry_at(clinic, "1930-03-01T00:44:29Z")  # Feb 28, 23:59:59 local
    _entry_at(clinic, "1930-03-01T00:44:30Z")  # Mar 1, 00:00 local
    data = stats(clinic, "1930-03-01", "1930-03-31").to_dict()
    assert data["total"] == 1
    assert data == stats(clinic, "1930-03-01", "1930-03-31", source="raw").to_dict()


def test_appended_rows_fold_into_compact_ones(
    db, clinic: Clinic, backend: str, monkeypatch
) -> None:
    """PostgreSQL: triggers append rows; the expiry sweep folds them once enough have
    gathered (stats() reads them unfolded and never writes), and the figures do not change.
    SQLite adds in place and has nothing to fold."""
    from tests.domain.test_stats import build_history

    build_history(clinic)
    before = stats(clinic).to_dict()
    pending = database.execute_sql("SELECT COUNT(*) FROM stats_count WHERE seq <> 0").fetchone()
    assert (pending[0] > 0) == (backend == "postgres")
    monkeypatch.setattr(rollups, "PENDING_LIMIT", 0)
    assert stats(clinic).to_dict() == before
    rollups.compact()  # as the expiry sweep calls it (expiring this history would change it)
    assert stats(clinic).to_dict() == before
    pending = database.execute_sql("SELECT COUNT(*) FROM stats_count WHERE seq <> 0").fetchone()
    assert pending[0] == 0
    assert rollups.compact(force=True) == 0
    assert_rollups_match_a_rebuild()


def test_two_desks_booking_an_entry_and_linking_its_appointment_at_once(clinic: Clinic) -> None:
    """One desk books an entry while another links an appointment to it, each in its own
    transaction: the pair is counted once, with its provider, whoever commits first (the
    points lock their entry; SQLite runs one writer at a time anyway)."""
    import threading
    import time

    from tests.domain.test_stats import History

    history = History(clinic)
    entry = history.entry("PT-EVAL", "waiting", "2026-11-02T15:00Z", original="2026-11-30T15:00Z")
    booked = threading.Event()

    def book() -> None:
        with database.connection_context(), database.atomic():
            Entry.update(status="booked", booked_at=pendulum.parse("2026-11-05T15:00Z")).where(
                Entry.id == entry.id
            ).execute()
            booked.set()
            time.sleep(0.3)  # the other desk writes meanwhile

    def link() -> None:
        booked.wait(5)
        with database.connection_context(), database.atomic():
            Appointment.create(
                clinic=clinic,
                client=history.client,
                provider=history.providers["KIM"],
                service=entry.service,
                entry=entry.id,
                starts_at=pendulum.parse("2026-11-20T15:00Z"),
                ends_at=pendulum.parse("2026-11-20T16:00Z"),
                created_at=pendulum.parse("2026-11-05T15:00Z"),
                updated_at=pendulum.parse("2026-11-05T15:00Z"),
                created_by=STAFF,
                updated_by=STAFF,
            )

    desks = [threading.Thread(target=book), threading.Thread(target=link)]
    for desk in desks:
        desk.start()
    for desk in desks:
        desk.join()
    assert_rollups_match_a_rebuild()
    kim = next(p for p in stats(clinic).to_dict()["by_provider"] if p["provider"] == "KIM")
    assert kim["counts"]["booked"] == 1 and kim["days_sooner"]["average"] == 10.0

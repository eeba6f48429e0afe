"""Waitlist statistics over a small hand-made history, on SQLite and PostgreSQL.

Every figure below was worked out by hand from the rows the `history` fixture writes; the
clock is frozen on Friday 2026-11-20 (New York), so the weekly series runs from the week of
Monday 2026-08-31 to the week of Monday 2026-11-16. US clocks went back on Sunday 2026-11-01:
a week starting on Monday 2026-10-26 begins at 04:00 UTC, one starting on 2026-11-02 at 05:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

import pendulum
import pytest
from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.stats import report as stats_mod
from waitlist_tui.domain.stats.report import Stats
from waitlist_tui.domain.stats.report import stats as compute
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

WEEK_STARTS = [str(dt.date(2026, 8, 31) + dt.timedelta(weeks=i)) for i in range(12)]


def at(text: str) -> pendulum.DateTime:
    return pendulum.parse(text)


class History:
    """Writes rows straight through the models, with the times the figures depend on."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.services = {s.code: s for s in Service.select().where(Service.clinic == clinic)}
        self.providers = {p.code: p for p in Provider.select().where(Provider.clinic == clinic)}
        now = at("2026-08-01T12:00:00Z")
        self.client = Client.create(
            clinic=clinic,
            first_name="Ada",
            last_name="Byrne",
            phone="+16175550100",
            created_at=now,
            updated_at=now,
            created_by=STAFF,
            updated_by=STAFF,
        )

    def entry(
        self,
        service: str,
        status: str,
        created: str,
        booked: str | None = None,
        original: str | None = None,
    ) -> Entry:
        created_at = at(created)
        changed = at(booked) if booked else created_at
        return Entry.create(
            clinic=self.clinic,
            client=self.client,
            service=self.services[service],
            status=status,
            payment_type=vocab.SELF_PAY,
            appointment_type=self.services[service].appointment_type,
            date_range_start=dt.date(created_at.year, created_at.month, created_at.day),
            date_range_end=dt.date(created_at.year, created_at.month, created_at.day)
            + dt.timedelta(days=30),
            original_appointment_at=at(original) if original else None,
            created_at=created_at,
            updated_at=changed,
            status_changed_at=changed,
            booked_at=at(booked) if booked else None,
            created_by=STAFF,
            updated_by=STAFF,
        )

    def appointment(self, entry: Entry, provider: str, starts: str) -> Appointment:
        start = at(starts)
        return Appointment.create(
            clinic=self.clinic,
            client=self.client,
            provider=self.providers[provider],
            service=entry.service,
            entry=entry,
            starts_at=start,
            ends_at=start.add(minutes=entry.service.duration_minutes),
            created_at=entry.booked_at,
            updated_at=entry.booked_at,
            created_by=STAFF,
            updated_by=STAFF,
        )

    def opening(
        self,
        provider: str,
        service: str | None,
        status: str,
        created: str,
        filled: str | None = None,
    ) -> Opening:
        created_at = at(created)
        start = created_at.add(days=3)
        return Opening.create(
            clinic=self.clinic,
            provider=self.providers[provider],
            service=self.services[service] if service else None,
            starts_at=start,
            ends_at=start.add(minutes=60),
            status=status,
            created_at=created_at,
            updated_at=at(filled) if filled else created_at,
            filled_at=at(filled) if filled else None,
            created_by=STAFF,
            updated_by=STAFF,
        )

    def offer(self, opening: Opening, entry: Entry, status: str, sent: str) -> Offer:
        sent_at = at(sent)
        return Offer.create(
            opening=opening,
            entry=entry,
            status=status,
            sent_at=sent_at,
            expires_at=sent_at.add(hours=2),
            responded_at=None if status == vocab.OFFER_SENT else sent_at.add(minutes=5),
            created_by=STAFF,
            updated_by=STAFF,
        )


@pytest.fixture(params=["rollup", "raw"])
def stats(request: pytest.FixtureRequest) -> Callable[..., Stats]:
    """stats() from the rollups (what the app reads) and from the raw tables (the oracle): every
    figure below holds for both."""
    return partial(compute, source=request.param)


@pytest.fixture
def history(clinic: Clinic) -> Clinic:
    build_history(clinic)
    return clinic


def build_history(clinic: Clinic) -> None:
    h = History(clinic)
    # Entries. Waits (created -> booked) and days sooner (original - booked slot) in comments.
    e1 = h.entry(  # created Sun 11-01 23:30 EST: the week of 10-26; waited 2.0 days
        "PT-EVAL", "booked", "2026-11-02T04:30Z", "2026-11-04T04:30Z", "2026-11-20T15:00Z"
    )
    h.appointment(e1, "KIM", "2026-11-10T15:00Z")  # 10.0 days sooner
    e2 = h.entry(  # created Mon 11-02 00:30 EST: the week of 11-02; waited 1.5 days
        "PT-EVAL", "booked", "2026-11-02T05:30Z", "2026-11-03T17:30Z", "2026-11-15T14:00Z"
    )
    h.appointment(e2, "PATEL", "2026-11-12T14:00Z")  # 3.0 days sooner
    e3 = h.entry("PT-FU", "booked", "2026-11-09T12:00Z", "2026-11-13T12:00Z")  # 4.0 days
    h.appointment(e3, "KIM", "2026-11-18T16:00Z")  # no original appointment
    e4 = h.entry(  # booked Sun 11-15 19:00 EST: the week of 11-09; waited 5.5 days
        "MASSAGE", "booked", "2026-11-10T12:00Z", "2026-11-16T00:00Z", "2026-12-01T15:00Z"
    )
    h.appointment(e4, "OKAFOR", "2026-11-24T15:00Z")  # 7.0 days sooner
    e5 = h.entry("PT-EVAL", "waiting", "2026-11-16T05:00Z")  # Mon 11-16 00:00 EST
    e6 = h.entry("PT-FU", "waiting", "2026-11-16T04:59Z")  # Sun 11-15 23:59 EST
    e7 = h.entry("ACU", "offered", "2026-11-18T12:00Z")
    e8 = h.entry("MASSAGE", "cancelled", "2026-10-20T12:00Z")
    h.entry("ACU", "expired", "2026-08-30T12:00Z")  # Sunday before the series' first week
    e10 = h.entry(  # created Mon 08-31 00:00 EDT, the series' first instant; waited 1.0 day
        "PT-EVAL", "booked", "2026-08-31T04:00Z", "2026-09-01T04:00Z", "2026-09-14T02:00Z"
    )
    h.appointment(e10, "LINDQVIST", "2026-09-10T14:00Z")  # 3.5 days sooner
    # Imported history: booked, but no appointment, so no provider; waited 0.5 days.
    h.entry("ACU", "booked", "2026-09-15T12:00Z", "2026-09-16T00:00Z")

    # Openings, with their minutes from creation to filling.
    o1 = h.opening("KIM", "PT-EVAL", "filled", "2026-11-04T04:00Z", "2026-11-04T04:30Z")  # 30
    o2 = h.opening("PATEL", "PT-EVAL", "filled", "2026-11-03T16:00Z", "2026-11-03T17:30Z")  # 90
    o3 = h.opening("KIM", "PT-FU", "filled", "2026-11-13T11:00Z", "2026-11-13T12:00Z")  # 60
    o4 = h.opening("OKAFOR", "MASSAGE", "filled", "2026-11-15T23:15Z", "2026-11-16T00:00Z")  # 45
    o5 = h.opening(  # 120
        "LINDQVIST", "PT-EVAL", "filled", "2026-09-01T02:00Z", "2026-09-01T04:00Z"
    )
    h.opening("OKAFOR", None, "open", "2026-11-19T12:00Z")  # typed in without a service
    o7 = h.opening("KIM", "PT-FU", "closed", "2026-11-05T12:00Z")
    o8 = h.opening("LINDQVIST", "ACU", "open", "2026-11-18T12:00Z")

    # Offers.
    h.offer(o1, e5, "declined", "2026-11-04T04:01Z")
    h.offer(o1, e1, "accepted", "2026-11-04T04:05Z")
    h.offer(o2, e6, "rescinded", "2026-11-03T16:05Z")
    h.offer(o2, e2, "accepted", "2026-11-03T16:10Z")
    h.offer(o3, e3, "accepted", "2026-11-13T11:10Z")
    h.offer(o4, e8, "declined", "2026-11-15T23:16Z")
    h.offer(o4, e4, "accepted", "2026-11-15T23:20Z")
    h.offer(o5, e10, "accepted", "2026-09-01T02:10Z")
    h.offer(o7, e6, "expired", "2026-11-05T12:05Z")
    h.offer(o8, e7, "sent", "2026-11-18T12:10Z")


def figures(
    counts: dict[str, int],
    wait: float,
    sooner: tuple[int, float, float],
    offers: dict[str, int],
    acceptance: float,
    openings: dict[str, int],
    fill_rate: float,
    fill_median: float,
) -> dict[str, Any]:
    """The figures a scope should have; the totals, the active count and the conversion rate
    (booked / total) follow from the counts given."""
    all_counts = dict.fromkeys(vocab.COUNTED_STATUSES, 0) | counts
    total = sum(all_counts.values())
    all_offers = dict.fromkeys(("pending", "accepted", "declined", "expired", "rescinded"), 0)
    all_offers |= offers
    all_openings = {"open": 0, "filled": 0, "closed": 0} | openings
    return {
        "counts": all_counts,
        "total": total,
        "active_count": all_counts["waiting"] + all_counts["offered"],
        "conversion_rate": round(100 * all_counts["booked"] / total, 1) if total else 0.0,
        "average_wait_days": wait,
        "days_sooner": {"count": sooner[0], "average": sooner[1], "median": sooner[2]},
        "offers": {"sent": sum(all_offers.values()), **all_offers, "acceptance_rate": acceptance},
        "openings": {
            "total": sum(all_openings.values()),
            **all_openings,
            "fill_rate": fill_rate,
            "median_fill_minutes": fill_median,
        },
    }


FIGURE_KEYS = (
    "counts",
    "total",
    "active_count",
    "conversion_rate",
    "average_wait_days",
    "days_sooner",
    "offers",
    "openings",
)


def only_figures(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of a scope (the clinic's top level, or a per-service/provider row)."""
    assert set(row) - set(FIGURE_KEYS) <= {
        "service",
        "provider",
        "name",
        "clinic",
        "time_zone",
        "since",
        "until",
        "by_service",
        "by_provider",
        "weekly",
    }
    return {k: row[k] for k in FIGURE_KEYS}


def test_clinic_figures(stats: Callable[..., Stats], history: Clinic) -> None:
    data = stats(history).to_dict()
    assert (data["clinic"], data["time_zone"]) == ("HARBOUR", "America/New_York")
    assert (data["since"], data["until"], data["provider"]) == (None, None, None)
    assert only_figures(data) == figures(
        counts={"waiting": 2, "offered": 1, "booked": 6, "cancelled": 1, "expired": 1},
        wait=2.4,  # (2 + 1.5 + 4 + 5.5 + 1 + 0.5) / 6 = 2.4167
        sooner=(4, 5.9, 5.3),  # 10, 3, 7, 3.5: mean 5.875, median (3.5 + 7) / 2 = 5.25
        offers={"pending": 1, "accepted": 5, "declined": 2, "expired": 1, "rescinded": 1},
        acceptance=62.5,  # 5 / (5 + 2 + 1)
        openings={"open": 2, "filled": 5, "closed": 1},
        fill_rate=62.5,
        fill_median=60.0,  # 30, 45, 60, 90, 120
    )
    assert data["total"] == 11 and data["active_count"] == 3
    assert data["conversion_rate"] == 54.5  # 6 / 11 = 54.545...


def test_per_service(stats: Callable[..., Stats], history: Clinic) -> None:
    rows = {row["service"]: row for row in stats(history).to_dict()["by_service"]}
    assert list(rows) == ["ACU", "MASSAGE", "PT-EVAL", "PT-FU"]  # PILATES is a class, unused
    assert rows["PT-EVAL"]["name"] == "Physiotherapy assessment"
    assert only_figures(rows["PT-EVAL"]) == figures(
        counts={"waiting": 1, "booked": 3},
        wait=1.5,  # 2, 1.5, 1
        sooner=(3, 5.5, 3.5),  # 10, 3, 3.5
        offers={"accepted": 3, "declined": 1, "rescinded": 1},  # on openings 1, 2 and 5
        acceptance=75.0,
        openings={"filled": 3},
        fill_rate=100.0,
        fill_median=90.0,  # 30, 90, 120
    )
    assert only_figures(rows["PT-FU"]) == figures(
        counts={"waiting": 1, "booked": 1},
        wait=4.0,
        sooner=(0, 0.0, 0.0),
        offers={"accepted": 1, "expired": 1},
        acceptance=50.0,
        openings={"filled": 1, "closed": 1},
        fill_rate=50.0,
        fill_median=60.0,
    )
    assert only_figures(rows["MASSAGE"]) == figures(
        counts={"booked": 1, "cancelled": 1},
        wait=5.5,
        sooner=(1, 7.0, 7.0),
        offers={"accepted": 1, "declined": 1},
        acceptance=50.0,
        openings={"filled": 1},
        fill_rate=100.0,
        fill_median=45.0,
    )
    assert only_figures(rows["ACU"]) == figures(
        counts={"offered": 1, "booked": 1, "expired": 1},  # the booking has no appointment
        wait=0.5,
        sooner=(0, 0.0, 0.0),
        offers={"pending": 1},
        acceptance=0.0,  # nothing answered yet: 0, not an error
        openings={"open": 1},
        fill_rate=0.0,
        fill_median=0.0,
    )
    assert rows["ACU"]["conversion_rate"] == 33.3


def test_per_provider_counts_booked_entries_by_their_appointment(
    stats: Callable[..., Stats], history: Clinic
) -> None:
    rows = {row["provider"]: row for row in stats(history).to_dict()["by_provider"]}
    assert list(rows) == ["KIM", "LINDQVIST", "OKAFOR", "PATEL"]
    assert only_figures(rows["KIM"]) == figures(
        counts={"booked": 2},  # entries 1 and 3; waiting entries have no provider
        wait=3.0,
        sooner=(1, 10.0, 10.0),
        offers={"accepted": 2, "declined": 1, "expired": 1},  # on openings 1, 3 and 7
        acceptance=50.0,
        openings={"filled": 2, "closed": 1},
        fill_rate=66.7,
        fill_median=45.0,  # 30 and 60: an even count takes the mean of the middle two
    )
    assert only_figures(rows["OKAFOR"]) == figures(
        counts={"booked": 1},
        wait=5.5,
        sooner=(1, 7.0, 7.0),
        offers={"accepted": 1, "declined": 1},
        acceptance=50.0,
        openings={"filled": 1, "open": 1},  # the opening without a service is Okafor's
        fill_rate=50.0,
        fill_median=45.0,
    )
    assert only_figures(rows["LINDQVIST"]) == figures(
        counts={"booked": 1},
        wait=1.0,
        sooner=(1, 3.5, 3.5),
        offers={"accepted": 1, "pending": 1},
        acceptance=100.0,
        openings={"filled": 1, "open": 1},
        fill_rate=50.0,
        fill_median=120.0,
    )
    assert rows["PATEL"]["counts"]["booked"] == 1
    assert rows["PATEL"]["offers"]["rescinded"] == 1
    assert rows["PATEL"]["offers"]["acceptance_rate"] == 100.0  # rescinded is not answered
    # The booking without an appointment counts for the clinic, in no provider's row.
    booked_by_providers = sum(row["counts"]["booked"] for row in rows.values())
    assert booked_by_providers == 5


def test_weekly_series_in_clinic_weeks(stats: Callable[..., Stats], history: Clinic) -> None:
    weekly = stats(history).to_dict()["weekly"]
    assert [w["week_start"] for w in weekly] == WEEK_STARTS
    assert [w["entries_added"] for w in weekly] == [1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 3, 2]
    assert [w["entries_booked"] for w in weekly] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 2, 2, 0]
    assert [w["openings_filled"] for w in weekly] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0]


def test_period_filters_by_creation_and_sending_in_clinic_dates(
    stats: Callable[..., Stats], history: Clinic
) -> None:
    data = stats(history, "2026-11-02", dt.date(2026, 11, 15)).to_dict()
    assert (data["since"], data["until"]) == ("2026-11-02", "2026-11-15")
    # [2026-11-02 05:00Z, 2026-11-16 05:00Z): entries 2, 3, 4 and 6, not 1 (Nov 1 in New
    # York) nor 5 (Nov 16); offers and openings by when they were sent and created.
    assert only_figures(data) == figures(
        counts={"waiting": 1, "booked": 3},
        wait=3.7,  # (1.5 + 4 + 5.5) / 3
        sooner=(2, 5.0, 5.0),  # 3 and 7
        offers={"accepted": 4, "declined": 2, "expired": 1, "rescinded": 1},
        acceptance=57.1,  # 4 / 7
        openings={"filled": 4, "closed": 1},
        fill_rate=80.0,
        fill_median=52.5,  # 30, 45, 60, 90
    )
    kim = next(row for row in data["by_provider"] if row["provider"] == "KIM")
    assert kim["counts"]["booked"] == 1 and kim["average_wait_days"] == 4.0  # entry 3 only
    # The series ends with the week holding `until`, and `since` does not cut it: the
    # expired entry of Sunday 08-30 now falls in its first week.
    weekly = data["weekly"]
    assert weekly[0]["week_start"] == "2026-08-24" and weekly[-1]["week_start"] == "2026-11-09"
    assert [w["entries_added"] for w in weekly] == [1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 3]


def test_one_provider(stats: Callable[..., Stats], history: Clinic) -> None:
    data = stats(history, provider="kim").to_dict()
    assert data["provider"] == "KIM"
    assert [row["provider"] for row in data["by_provider"]] == ["KIM"]
    overall = only_figures(data)
    assert overall == only_figures(data["by_provider"][0])
    assert overall == figures(
        counts={"booked": 2},
        wait=3.0,
        sooner=(1, 10.0, 10.0),
        offers={"accepted": 2, "declined": 1, "expired": 1},
        acceptance=50.0,
        openings={"filled": 2, "closed": 1},
        fill_rate=66.7,
        fill_median=45.0,
    )
    services = {row["service"]: row for row in data["by_service"]}
    assert services["PT-EVAL"]["counts"]["booked"] == 1
    assert services["PT-EVAL"]["offers"]["sent"] == 2
    assert services["PT-FU"]["openings"]["median_fill_minutes"] == 60.0
    assert services["MASSAGE"]["total"] == 0
    weekly = data["weekly"]
    assert [w["entries_added"] for w in weekly] == [0] * 8 + [1, 0, 1, 0]
    assert [w["entries_booked"] for w in weekly] == [0] * 9 + [1, 1, 0]
    assert [w["openings_filled"] for w in weekly] == [0] * 9 + [1, 1, 0]


def test_empty_clinic_is_all_zeros(stats: Callable[..., Stats], clinic: Clinic) -> None:
    data = stats(clinic).to_dict()
    zero = figures({}, 0.0, (0, 0.0, 0.0), {}, 0.0, {}, 0.0, 0.0)
    assert only_figures(data) == zero
    assert [row["service"] for row in data["by_service"]] == ["ACU", "MASSAGE", "PT-EVAL", "PT-FU"]
    assert all(only_figures(row) == zero for row in data["by_service"] + data["by_provider"])
    assert len(data["by_provider"]) == 4
    assert [w["week_start"] for w in data["weekly"]] == WEEK_STARTS
    assert all(
        (w["entries_added"], w["entries_booked"], w["openings_filled"]) == (0, 0, 0)
        for w in data["weekly"]
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"since": "2026-11-20", "until": "2026-11-01"}, "until", "on or after since"),
        ({"since": "2026-13-01"}, "since", "since must be a date YYYY-MM-DD"),
        ({"until": "soon"}, "until", "until must be a date YYYY-MM-DD"),
        ({"provider": "NOBODY"}, "provider", "'NOBODY' is not a provider of this clinic"),
    ],
)
def test_bad_input_names_the_field(
    stats: Callable[..., Stats], clinic: Clinic, kwargs: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        stats(clinic, **kwargs)
    assert info.value.field == field and message in info.value.message


def test_query_count_does_not_grow_with_the_data(
    stats: Callable[..., Stats], clinic: Clinic
) -> None:
    """Aggregates only, never a statement per row: a history twice as busy takes as many
    statements (the rollups add one, for the medians' middle values, once there are any; a
    period one more, for its bins)."""
    with count_queries() as empty:
        stats(clinic)
    build_history(clinic)
    with count_queries() as busy:
        stats(clinic)
    build_history(clinic)
    with count_queries() as busier:
        stats(clinic)
    with count_queries() as period:
        stats(clinic, "2026-11-02", "2026-11-15", provider="KIM")
    assert empty.count <= busy.count == busier.count <= 10
    assert period.count <= 10


def test_same_day_period_is_allowed(stats: Callable[..., Stats], history: Clinic) -> None:
    data = stats(history, "2026-11-18", "2026-11-18").to_dict()
    assert data["counts"]["offered"] == 1 and data["total"] == 1
    assert data["openings"]["open"] == 1 and data["offers"]["pending"] == 1


def test_round1_halves_up_whatever_the_float_noise() -> None:
    assert stats_mod.round1(5.25) == 5.3
    assert stats_mod.round1(2.2499999999) == 2.3  # julianday noise around 2.25
    assert stats_mod.round1(2.25000000001) == 2.3
    assert stats_mod.round1(-3.25) == -3.3
    assert stats_mod.percent(2, 3) == 66.7 and stats_mod.percent(1, 0) == 0.0


def test_stats_never_writes(stats: Callable[..., Stats], history: Clinic, backend: str) -> None:
    """The import wall keeps the writing modules out of stats; this catches a write that no
    import shows (the rollup compaction ran inside stats() on PostgreSQL): the connection is
    read-only while the figures are read, for every period and one provider."""
    from waitlist_tui.domain.store.db import database

    if backend == "postgres":
        database.execute_sql("SET default_transaction_read_only = on")
    else:
        database.execute_sql("PRAGMA query_only = ON")
    try:
        everything = stats().to_dict()
        assert everything["total"] > 0
        stats(since="2026-11-01", until="2026-11-20")
        stats(provider=everything["by_provider"][0]["provider"])
    finally:
        if backend == "postgres":
            database.execute_sql("SET default_transaction_read_only = off")
        else:
            database.execute_sql("PRAGMA query_only = OFF")

"""The entry rules of the foundation issue, each on SQLite and PostgreSQL.

The dates below are the frozen clock's (Friday 2026-11-20, the `clinic` fixture freezes it), so
they hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import pytest

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain import vocab
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.clinics import load_catalog
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.store.db import plain_rows
from waitlist_tui.domain.store.models import (
    ALL_MODELS,
    AuditEvent,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.waitlist import adding, changes, listing, reading
from waitlist_tui.domain.waitlist.views import EntryView


def row_counts() -> dict[str, int]:
    return {m.__name__: m.select().count() for m in ALL_MODELS}


def assert_rejected(call, error: type, message: str) -> None:
    """The call fails with `error` whose message contains `message`, and no row changed."""
    before = row_counts()
    with pytest.raises(error) as info:
        call()
    assert message in info.value.message
    assert row_counts() == before


def test_create_stores_resolved_fields_and_audit(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    data = view.to_dict()
    assert data["status"] == "waiting"
    assert data["priority"] == 3
    assert data["client"]["phone"] == "+16175550142"
    assert data["client"]["email"] == "Jane.Doe@example.com"
    assert data["service"]["code"] == "PT-EVAL" and data["appointment_duration"] == 60
    assert data["appointment_type"] == "INITIAL_EVAL"  # derived from the service
    assert data["preferred_providers"] == ["KIM"]
    assert data["preferred_days"] == ["MONDAY", "WEDNESDAY"]
    assert data["created_by"] == data["updated_by"] == STAFF
    assert data["created_at"] == "2026-11-20T14:30:00Z"
    assert data["created_at_epoch_ms"] == 1795185000000
    assert data["version"] == 1
    audit = AuditEvent.get(AuditEvent.object_id == data["id"])
    assert audit.action == "entry.create" and audit.actor == STAFF
    assert audit.changes["priority"] == [None, 3]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Initial Evaluation", "INITIAL_EVAL"),
        ("follow up", "FOLLOW_UP"),
        ("INITIAL_EVAL", "INITIAL_EVAL"),
        ("follow_up", "FOLLOW_UP"),
        ("Follow-Up", "FOLLOW_UP"),
    ],
)
def test_appointment_type_labels(clinic: Clinic, given: str, stored: str) -> None:
    assert adding.create(entry_payload(appointment_type=given), STAFF).appointment_type == stored


def test_date_range_end_before_start(clinic: Clinic) -> None:
    assert_rejected(
        lambda: adding.create(
            entry_payload(date_range_start="2026-12-10", date_range_end="2026-12-01"), STAFF
        ),
        ValidationError,
        "date_range_end must be on or after date_range_start",
    )


def test_span_over_clinic_maximum_names_the_limit(clinic: Clinic) -> None:
    assert_rejected(
        lambda: adding.create(
            entry_payload(date_range_start="2026-11-23", date_range_end="2026-12-24"), STAFF
        ),
        ValidationError,
        "at most 30 days",
    )
    Clinic.update(max_span_days=60).execute()
    assert adding.create(entry_payload(date_range_end="2026-12-24"), STAFF).status == "waiting"


def test_waitlist_not_enabled(clinic: Clinic) -> None:
    Clinic.update(waitlist_enabled=False).execute()
    assert_rejected(
        lambda: adding.create(entry_payload(), STAFF),
        ValidationError,
        "waitlist feature not configured for this organization",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service": "YOGA"}, "service: 'YOGA' is not a service of this clinic"),
        ({"preferred_providers": ["NOBODY"]}, "'NOBODY' is not a provider of this clinic"),
        ({"preferred_providers": ["OKAFOR"]}, "OKAFOR does not offer PT-EVAL"),
        (
            {"client": None, "client_id": "0123456789ab"},
            "client_id: '0123456789ab' is not a client",
        ),
        ({"payment_type": "CASH"}, "payment_type must be SELF_PAY or INSURANCE_PAY"),
        ({"priority": 0}, "priority must be a whole number 1-5"),
        ({"priority": "high"}, "priority must be a whole number 1-5"),
        ({"preferred_days": ["FUNDAY"]}, "preferred_days: 'FUNDAY' is not a day"),
        ({"preferred_days": [7]}, "preferred_days: 7 is not 0-6"),
        ({"preferred_time_slots": ["NIGHT"]}, "preferred_time_slots: 'NIGHT'"),
        (
            {"preferred_time_start": "14:00", "preferred_time_end": "09:00"},
            "preferred_time_start must be before preferred_time_end",
        ),
        ({"preferred_time_start": "09:00"}, "preferred_time_end is required"),
        (
            {"preferred_time_start": "9am", "preferred_time_end": "10:00"},
            "preferred_time_start must be a time of day",
        ),
        ({"appointment_type": "Surgery"}, "appointment_type must be Initial Evaluation"),
        ({"date_range_start": "2026-13-01"}, "date_range_start must be a date YYYY-MM-DD"),
        (
            {"date_range_start": "2026-11-01", "date_range_end": "2026-11-10"},
            "date_range_end is in the past",
        ),
        ({"client": {"first_name": "A", "last_name": "B", "phone": "12"}}, "client.phone"),
        (
            {"client": {"first_name": "A", "last_name": "B", "email": "not-an-email"}},
            "client.email",
        ),
        (
            {"client": {"first_name": "", "last_name": "B", "phone": "6175550100"}},
            "client.first_name is required",
        ),
        ({"colour": "blue"}, "colour is not a field of a waitlist entry"),
    ],
)
def test_bad_input_names_field_and_changes_nothing(
    clinic: Clinic, overrides: dict, message: str
) -> None:
    payload = entry_payload(**overrides)
    if payload.get("client") is None:
        payload.pop("client")
    assert_rejected(lambda: adding.create(payload, STAFF), ValidationError, message)


def test_payment_type_defaults_to_the_clinics(clinic: Clinic) -> None:
    """The CLI required payment_type while the app filled SELF_PAY in: one default, the
    clinic's (`default_payment_type` in its set-up), on every path."""
    payload = entry_payload()
    payload.pop("payment_type")
    assert adding.create(payload, STAFF).payment_type == "SELF_PAY"
    data = demo_clinic()
    data["clinic"]["default_payment_type"] = "insurance_pay"
    apply_setup(data, STAFF)
    payload["client"] = {**payload["client"], "phone": "617-555-0199", "first_name": "Ivy"}
    assert adding.create(payload, STAFF).payment_type == "INSURANCE_PAY"
    assert load_catalog().payment_default == "INSURANCE_PAY"
    data["clinic"]["default_payment_type"] = "CASH"
    with pytest.raises(ValidationError, match="clinic.default_payment_type must be"):
        apply_setup(data, STAFF)


def test_days_by_name_short_name_or_number_sunday_zero(clinic: Clinic) -> None:
    view = adding.create(entry_payload(preferred_days=[0, "1", "fri", "Saturday"]), STAFF)
    assert view.preferred_days == ("MONDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def test_defaults_priority_and_date_range(clinic: Clinic) -> None:
    payload = entry_payload()
    for key in ("date_range_start", "date_range_end", "preferred_days", "preferred_time_slots"):
        payload.pop(key)
    view = adding.create(payload, STAFF)
    assert view.priority == 3
    assert str(view.date_range_start) == "2026-11-20"  # today in New York
    assert str(view.date_range_end) == "2026-12-20"  # + max_span_days


def test_window_and_slots_round_trip(clinic: Clinic) -> None:
    view = adding.create(
        entry_payload(
            preferred_time_slots=["morning", "ANYTIME"],
            preferred_time_start="09:00",
            preferred_time_end="14:00",
        ),
        STAFF,
    )
    data = reading.get(view.id).to_dict()
    assert data["preferred_time_slots"] == ["MORNING", "ANYTIME"]
    assert (data["preferred_time_start"], data["preferred_time_end"]) == ("09:00", "14:00")


def test_existing_client_by_id_and_by_details(clinic: Clinic) -> None:
    first = adding.create(entry_payload(), STAFF)
    second = adding.create(
        entry_payload(
            service="PT-FU",
            preferred_providers=[],
            client={"first_name": "jane", "last_name": "DOE", "phone": "+1 617 555 0142"},
        ),
        STAFF,
    )
    third = adding.create(
        entry_payload(
            client=None, client_id=str(first.client.id)[:8], service="ACU", preferred_providers=[]
        ),
        STAFF,
    )
    assert first.client.id == second.client.id == third.client.id


def test_get_unknown_and_prefix(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    assert reading.get(str(view.id)[:6]).id == view.id
    with pytest.raises(NotFound, match="waitlist request not found"):
        reading.get("00000000-0000-4000-8000-000000000000")
    with pytest.raises(ValidationError, match="at least 6"):
        reading.get(str(view.id)[:4])


def test_update_patch_changes_only_given_fields_with_audit(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    updated = changes.update(
        view.id,
        {"priority": 1, "notes": "Urgent now", "date_range_end": "2026-12-20", "version": 1},
        "maria",
    )
    assert (updated.priority, updated.notes, str(updated.date_range_end)) == (
        1,
        "Urgent now",
        "2026-12-20",
    )
    assert updated.preferred_days == view.preferred_days
    assert updated.version == 2 and updated.updated_by == "maria" and updated.created_by == STAFF
    audit = AuditEvent.select().where(AuditEvent.action == "entry.update").get()
    assert audit.changes["priority"] == [3, 1]
    assert audit.changes["date_range_end"] == ["2026-12-15", "2026-12-20"]
    assert set(audit.changes) == {"priority", "notes", "date_range_end"}


def test_update_rules_apply_to_merged_values(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    assert_rejected(
        lambda: changes.update(view.id, {"date_range_end": "2026-11-22"}, STAFF),
        ValidationError,
        "date_range_end must be on or after date_range_start",
    )
    assert_rejected(
        lambda: changes.update(view.id, {"service": "MASSAGE"}, STAFF),
        ValidationError,
        "KIM does not offer MASSAGE",
    )
    moved = changes.update(view.id, {"service": "PT-FU"}, STAFF)
    assert moved.appointment_type == "FOLLOW_UP"


def test_update_stale_version_is_conflict_and_keeps_the_other_desk_edit(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    changes.update(view.id, {"notes": "desk A", "version": 1}, "desk-a")
    assert_rejected(
        lambda: changes.update(view.id, {"notes": "desk B", "version": 1}, "desk-b"),
        Conflict,
        "changed by someone else",
    )
    assert reading.get(view.id).notes == "desk A"


@pytest.mark.parametrize("status", ["booked", "cancelled", "expired"])
def test_update_closed_entry_is_conflict(clinic: Clinic, status: str) -> None:
    view = adding.create(entry_payload(), STAFF)
    Entry.update(status=status).where(Entry.id == view.id).execute()
    assert_rejected(
        lambda: changes.update(view.id, {"priority": 1}, STAFF),
        Conflict,
        "waitlist request is closed",
    )
    assert_rejected(lambda: changes.cancel(view.id, STAFF), Conflict, "waitlist request is closed")


def _sent_offer(view: EntryView, start: str) -> Offer:
    import pendulum

    provider = Provider.get(Provider.code == "KIM")
    at = pendulum.parse(start)
    now = pendulum.now("UTC")
    opening = Opening.create(
        clinic=view.clinic_id,
        provider=provider,
        starts_at=at,
        ends_at=at.add(hours=1),
        created_at=now,
        updated_at=now,
        created_by=STAFF,
        updated_by=STAFF,
    )
    Entry.update(status=vocab.OFFERED).where(Entry.id == view.id).execute()
    return Offer.create(
        opening=opening,
        entry=view.id,
        sent_at=now,
        expires_at=now.add(hours=2),
        created_by=STAFF,
        updated_by=STAFF,
    )


def test_cancel_rescinds_live_offer_and_audits(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    offer = _sent_offer(view, "2026-11-25T14:00:00Z")
    cancelled = changes.cancel(view.id, "maria", reason="Found another clinic")
    assert cancelled.status == "cancelled" and "Found another clinic" in cancelled.notes
    assert Offer.get_by_id(offer.id).status == "rescinded"
    assert AuditEvent.select().where(AuditEvent.action == "entry.cancelled").count() == 1


def test_narrowing_range_past_a_live_offer_is_refused(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    _sent_offer(view, "2026-11-25T14:00:00Z")  # 09:00 on Nov 25 in New York
    assert_rejected(
        lambda: changes.update(view.id, {"date_range_start": "2026-11-26"}, STAFF),
        ValidationError,
        "active invites exist for this request",
    )
    assert changes.update(view.id, {"date_range_end": "2026-12-20"}, STAFF).version == 2


def test_patch_status_cancelled_and_fulfilled(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    assert_rejected(
        lambda: changes.update(view.id, {"status": "FULFILLED"}, STAFF),
        ValidationError,
        "set by accepting an offer",
    )
    assert changes.update(view.id, {"status": "CANCELLED"}, STAFF).status == "cancelled"


def test_offers_detail_for_include_offers(clinic: Clinic) -> None:
    view = adding.create(entry_payload(), STAFF)
    offer = _sent_offer(view, "2026-11-25T14:00:00Z")
    detail = reading.offers_detail(view.id)
    assert detail["matched_invites"][0]["invite_id"] == str(offer.id)
    assert detail["matched_invites"][0]["slot_start"] == "2026-11-25T14:00:00Z"
    assert detail["matched_waitlists"][0]["provider"] == "KIM"


def test_list_filters_order_and_paging(clinic: Clinic) -> None:
    a = adding.create(entry_payload(priority=2), STAFF)
    b = adding.create(
        entry_payload(
            client={"first_name": "Omar", "last_name": "Haddad", "phone": "617-555-0199"},
            service="MASSAGE",
            preferred_providers=[],
            priority=1,
        ),
        STAFF,
    )
    c = adding.create(
        entry_payload(
            client={"first_name": "Ana", "last_name": "Silva", "email": "ana@silva.example"},
            priority=4,
            preferred_providers=["PATEL"],
        ),
        STAFF,
    )
    changes.cancel(c.id, STAFF)
    page = listing.list_entries(listing.EntryQuery())
    assert [v.id for v in page.items] == [b.id, a.id] and page.total == 2

    def ids(**kw) -> list:
        return [v.id for v in listing.list_entries(listing.EntryQuery(**kw)).items]

    assert ids(statuses=("cancelled",)) == [c.id]
    assert ids(statuses=listing.expand_statuses(["all"])) == [b.id, a.id, c.id]
    assert ids(service="massage") == [b.id]
    assert ids(provider="KIM") == [b.id, a.id]  # b has no preference: any provider will do
    assert ids(provider="PATEL", statuses=("cancelled",)) == [c.id]
    assert ids(search="haddad") == [b.id]
    assert ids(search="omar HAD") == [b.id]
    assert ids(search="555 0199") == [b.id]
    assert ids(search="jane.doe@") == [a.id]
    assert ids(search="nobody") == []
    import datetime as dt

    assert ids(on_date=dt.date(2026, 12, 1)) == [b.id, a.id]
    assert ids(on_date=dt.date(2027, 1, 1)) == []
    second = listing.list_entries(listing.EntryQuery(limit=1, offset=1))
    assert [v.id for v in second.items] == [a.id] and second.total == 2

    # Capped counts (the screens): only for the counts read row by row, past the page asked.
    def counted(**kw) -> tuple[int, bool]:
        page = listing.list_entries(listing.EntryQuery(**kw))
        return page.total, page.total_capped

    assert counted(search="a") == (2, False)  # one letter: entries walked, client checked
    assert counted(search="a", count_cap=1, limit=1) == (1, True)
    assert counted(search="a", count_cap=1) == (2, False)  # never fewer than the page holds
    assert counted(search="a", count_cap=1, limit=1, offset=1) == (2, False)
    assert counted(search="omar", count_cap=1, limit=1) == (1, False)  # a client list: exact
    assert counted(provider="KIM", count_cap=1, limit=1) == (1, True)
    assert counted(count_cap=1, limit=1) == (2, False)  # an index count: always exact
    assert ids(search="o", limit=1, offset=1) == [a.id]
    # A page's views (read as tuples) are the same values as one entry read on its own.
    everything = listing.list_entries(listing.EntryQuery(statuses=listing.expand_statuses(["all"])))
    assert everything.items == [reading.get(v.id) for v in everything.items]
    assert [p.code for p in everything.items[2].preferred_providers] == ["PATEL"]
    with pytest.raises(ValidationError, match="status 'open'"):
        listing.expand_statuses(["open"])
    with pytest.raises(ValidationError, match="limit"):
        listing.list_entries(listing.EntryQuery(limit=0))


def test_a_page_read_as_plain_rows_matches_peewee_tuples(clinic: Clinic) -> None:
    """plain_rows converts only the columns a driver does not hand back ready (ids, dates,
    times): a page reads the same values, of the same types, as peewee's .tuples()."""
    for days in (0, 3):
        payload = entry_payload(expires_at=f"2026-12-{10 + days:02d}T10:00:00Z")
        adding.create(payload, STAFF, clinic)
    query = Entry.select(*reading.VIEW_COLUMNS).join(Client).switch(Entry).join(Service)
    plain = plain_rows(query.order_by(Entry.id), reading.VIEW_COLUMNS)
    expected = [list(row) for row in query.order_by(Entry.id).tuples()]
    assert plain == expected and len(plain) == 2
    assert [type(v) for v in plain[0]] == [type(v) for v in expected[0]]


def test_every_bad_field_is_named_at_once(clinic: Clinic) -> None:
    """One error came back per attempt; the desk fixed them one save at a time."""
    payload = entry_payload(priority=9, preferred_days=["FUNDAY"])
    payload["client"] = {**payload["client"], "phone": "abc"}
    before = Entry.select().count()
    with pytest.raises(ValidationError) as info:
        adding.create(payload, STAFF)
    fields = [e["field"] for e in info.value.data["errors"]]
    assert set(fields) == {"priority", "preferred_days", "client.phone"}
    assert info.value.message == info.value.data["errors"][0]["message"]  # the API's first
    assert Entry.select().count() == before
    view = adding.create(entry_payload(), STAFF)
    with pytest.raises(ValidationError) as info:
        changes.update(view.id, {"priority": 0, "date_range_end": "2026-11-01"}, STAFF)
    assert {e["field"] for e in info.value.data["errors"]} == {"priority", "date_range_end"}
    assert reading.get(view.id).version == view.version

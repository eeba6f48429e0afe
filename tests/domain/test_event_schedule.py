"""Scheduling a class: the rules of the instance itself (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain.classes import instances
from waitlist_tui.domain.classes import schedule as event_schedule
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.store.models import AuditEvent, Clinic, EventInstance

MONDAY_6PM = "2026-11-23T18:00"  # frozen clock: Friday 20 Nov


def test_a_class_takes_the_service_length_and_is_audited(clinic: Clinic) -> None:
    made = event_schedule.schedule("pilates", MONDAY_6PM, 8, STAFF, provider="PATEL")
    assert made.service_code == "PILATES" and made.capacity == 8 and made.seats_free == 8
    assert made.starts_at.isoformat().startswith("2026-11-23T23:00")  # 18:00 in New York
    assert (made.ends_at - made.starts_at).total_seconds() == 60 * 60
    assert AuditEvent.get(AuditEvent.action == "event.schedule").object_id == str(made.id)
    assert [i.id for i in instances.list_instances(clinic)] == [made.id]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"service": "PT-EVAL"}, "service", "appointment service"),
        ({"service": "YOGA"}, "service", "does not exist"),
        ({"capacity": 0}, "capacity", "1-500"),
        ({"start": "2026-11-19T18:00"}, "start", "past"),
        ({"start": "2026-03-08T02:30"}, "start", "does not exist"),
        ({"provider": "KIM"}, "provider", "does not lead"),
        ({"provider": "NOBODY"}, "provider", "NOBODY"),
    ],
)
def test_bad_classes_name_the_field_and_write_nothing(
    clinic: Clinic, kwargs: dict, field: str, words: str
) -> None:
    args = {"service": "PILATES", "start": MONDAY_6PM, "capacity": 8, "provider": None}
    args.update(kwargs)
    with pytest.raises(ValidationError) as err:
        event_schedule.schedule(args["service"], args["start"], args["capacity"], STAFF,
                                provider=args["provider"])  # fmt: skip
    assert err.value.field == field and words in err.value.message
    assert EventInstance.select().count() == 0


def test_the_leader_must_be_free(clinic: Clinic) -> None:
    event_schedule.schedule("PILATES", MONDAY_6PM, 8, STAFF, provider="PATEL")
    with pytest.raises(Conflict) as err:
        event_schedule.schedule("PILATES", "2026-11-23T18:30", 8, STAFF, provider="PATEL")
    assert "leads another session" in err.value.message
    entry = add_entry("Ana", service="PT-EVAL")
    sent = offers.offer(monday_opening("10:00", provider="PATEL").id, STAFF, entry_id=entry.id)
    offers.accept(sent[0].id, STAFF)
    with pytest.raises(Conflict) as err:
        event_schedule.schedule("PILATES", "2026-11-23T10:00", 8, STAFF, provider="PATEL")
    assert "booked appointment" in err.value.message
    assert EventInstance.select().count() == 1
    # without a leader, the same time is fine
    assert event_schedule.schedule("PILATES", "2026-11-23T10:00", 4, STAFF).provider_code is None

"""Phone attempts on a sent offer: what each outcome records and what it releases."""

from __future__ import annotations

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.test_entries import assert_rejected
from tests.timetravel import frozen_at
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import contact_attempts, offers
from waitlist_tui.domain.store.models import AuditEvent, Clinic, Entry, Offer


def two_in_line() -> tuple[offers.OfferView, object]:
    """A sequential offer to 'First', with 'Second' next in line."""
    add_entry("First", priority=1)
    second = add_entry("Second", priority=2)
    return offers.offer(monday_opening().id, STAFF)[0], second


def test_voicemail_only_records(clinic: Clinic) -> None:
    sent, second = two_in_line()
    reply = contact_attempts.log_attempt(str(sent.id)[:8], "voicemail", "maria", " left msg ")
    assert reply.offer.status == "sent" and not reply.released and reply.next_offers == ()
    assert Entry.get_by_id(sent.entry_id).status == "offered"
    assert Entry.get_by_id(second.id).status == "waiting"
    row = AuditEvent.get(AuditEvent.action == "offer.contact_attempt")
    assert (row.actor, row.object_id) == ("maria", str(sent.id))
    assert row.changes == {"outcome": "voicemail", "note": "left msg"}
    assert reply.attempts.count == 1 and reply.attempts.label == "1 call · voicemail"
    assert reply.to_dict()["attempts"]["last_outcome"] == "voicemail"


def test_attempts_are_counted_per_offer_in_one_read(clinic: Clinic) -> None:
    add_entry("A")
    add_entry("B")
    a, b = offers.offer(monday_opening().id, STAFF, workflow="BROADCAST", top=2)
    Clinic.update(no_answer_advances=False).execute()
    contact_attempts.log_attempt(a.id, "no_answer", STAFF)
    contact_attempts.log_attempt(a.id, "voicemail", STAFF)
    found = contact_attempts.summaries([a.id, b.id])
    assert found[str(a.id)].label == "2 calls · voicemail"
    assert str(b.id) not in found and contact_attempts.summary(b.id).label == ""


def test_bad_outcome_is_refused_and_changes_nothing(clinic: Clinic) -> None:
    sent, _ = two_in_line()
    assert_rejected(
        lambda: contact_attempts.log_attempt(sent.id, "busy", STAFF),
        ValidationError,
        "outcome must be one of no_answer, voicemail, declined_by_phone",
    )
    with pytest.raises(ValidationError) as info:
        contact_attempts.log_attempt(sent.id, "", STAFF)
    assert info.value.field == "outcome" and info.value.code == 4000
    assert_rejected(
        lambda: contact_attempts.log_attempt(sent.id, "voicemail", STAFF, "x" * 501),
        ValidationError,
        "note must be at most 500",
    )


def test_only_a_sent_offer_takes_a_call(clinic: Clinic) -> None:
    add_entry("A")
    add_entry("B")
    a, b = offers.offer(monday_opening().id, STAFF, workflow="BROADCAST", top=2)
    offers.accept(a.id, "tom")
    for offer_id, state in ((a.id, "accepted"), (b.id, "rescinded")):
        assert_rejected(
            lambda offer_id=offer_id: contact_attempts.log_attempt(offer_id, "voicemail", STAFF),
            Conflict,
            f"offer is {state}",
        )


def test_a_call_after_the_hold_ran_out_is_refused(clinic: Clinic) -> None:
    add_entry("Late")
    sent = offers.offer(monday_opening().id, STAFF, hold_minutes=30)[0]
    with frozen_at(pendulum.datetime(2026, 11, 20, 15, 1, tz="UTC")):
        assert_rejected(
            lambda: contact_attempts.log_attempt(sent.id, "no_answer", STAFF),
            Conflict,
            "offer is expired",
        )


def test_declined_by_phone_is_a_decline_that_advances(clinic: Clinic) -> None:
    sent, second = two_in_line()
    reply = contact_attempts.log_attempt(sent.id, "declined_by_phone", STAFF, "away that week")
    assert reply.released and reply.offer.status == "declined"
    assert reply.offer.note == "away that week"
    assert Entry.get_by_id(sent.entry_id).status == "waiting"
    assert [o.entry_id for o in reply.next_offers] == [second.id]
    assert Entry.get_by_id(second.id).status == "offered"
    desk = AuditEvent.select().where(~AuditEvent.action.startswith("message."))  # not the outbox
    actions = [r.action for r in desk.order_by(AuditEvent.id)][-3:]
    assert actions == ["offer.contact_attempt", "offer.declined", "offer.send"]


def test_no_answer_releases_and_advances_when_the_clinic_says_so(clinic: Clinic) -> None:
    assert clinic.no_answer_advances  # the demo clinic's setting
    sent, second = two_in_line()
    reply = contact_attempts.log_attempt(sent.id, "no_answer", STAFF)
    assert reply.released and reply.offer.status == "expired" and reply.offer.note == "no answer"
    assert Entry.get_by_id(sent.entry_id).status == "waiting"
    assert [o.entry_id for o in reply.next_offers] == [second.id]
    assert Offer.get_by_id(reply.next_offers[0].id).status == "sent"


def test_no_answer_only_records_when_the_clinic_keeps_waiting(clinic: Clinic) -> None:
    Clinic.update(no_answer_advances=False).execute()
    sent, second = two_in_line()
    reply = contact_attempts.log_attempt(sent.id, "no_answer", STAFF, "rang twice")
    assert not reply.released and reply.offer.status == "sent" and reply.next_offers == ()
    assert Entry.get_by_id(second.id).status == "waiting"
    assert reply.attempts.label == "1 call · no answer"


def test_declined_by_phone_on_a_broadcast_does_not_advance(clinic: Clinic) -> None:
    for name in ("A", "B", "C"):
        add_entry(name)
    a, b = offers.offer(monday_opening().id, STAFF, workflow="BROADCAST", top=2)
    reply = contact_attempts.log_attempt(a.id, "declined_by_phone", STAFF)
    assert reply.offer.note == "declined by phone" and reply.next_offers == ()
    assert Offer.get_by_id(b.id).status == "sent"

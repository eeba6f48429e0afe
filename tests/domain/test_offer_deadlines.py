"""An offer can never outlive its slot (min_notice, quiet hours, the expiry job), and every
offer ends one way (offers.end_offer), on both backends.

The frozen clock is Friday 2026-11-20 09:30 in New York; the demo clinic holds offers 120
minutes and stops offering a slot 60 minutes before it starts (min_notice), so an 11:00 slot
today must be answered by 10:00, not 11:30.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, entry_slot, monday_opening
from tests.domain.test_entries import row_counts
from tests.timetravel import frozen_at, move_to
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.clinics import clinic_dict
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import expiry, finder, offer_time, offers, openings
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.messaging import delivery, replies
from waitlist_tui.domain.messaging.transports import FileTransport, Transports
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    Clinic,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
    Provider,
)
from waitlist_tui.domain.waitlist import changes
from waitlist_tui.domain.waitlist.views import EntryView

NY = "America/New_York"


def at(day: int, hhmm: str) -> pendulum.DateTime:
    """A New York wall-clock time in November 2026, as an aware instant."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    return pendulum.datetime(2026, 11, day, hour, minute, tz=NY)


def today_entry(first: str, **kw: Any) -> EntryView:
    """A waiting entry that can take today's slots."""
    phone = kw.pop("phone", None)
    if phone:
        kw["client"] = {"first_name": first, "last_name": "Test", "phone": phone}
    return add_entry(first, date_range_start="2026-11-20", **kw)


def today_opening(hhmm: str, provider: str = "KIM", minutes: int = 60) -> Opening:
    return openings.add_opening(provider, f"2026-11-20T{hhmm}", minutes, STAFF)


def set_min_notice(minutes: int) -> None:
    clinic = Clinic.get()
    Clinic.update(settings={**clinic.settings, "min_notice": minutes}).execute()


def delivered() -> None:
    """The offers' messages went out (as `outbox deliver` would have marked them)."""
    OutboxMessage.update(status="sent").where(OutboxMessage.kind == "offer").execute()


def assert_rejected(call, error: type, message: str) -> Any:
    """The call fails with `error` whose message holds `message`, and no row changed; the
    error, for its code and field."""
    before = row_counts()
    with pytest.raises(error) as info:
        call()
    assert message in info.value.message
    assert row_counts() == before
    return info.value


def causes(offer_id: Any) -> list[str]:
    rows = AuditEvent.select().where(
        AuditEvent.object_type == "offer", AuditEvent.object_id == str(offer_id)
    )
    return [r.changes["cause"][1] for r in rows if "cause" in r.changes]


def kinds(client_first: str) -> list[str]:
    from waitlist_tui.domain.store.models import Client

    client = Client.get(Client.first_name == client_first)
    rows = OutboxMessage.select().where(OutboxMessage.client == client.id)
    return sorted(m.kind for m in rows)


# --- the clinic setting ---------------------------------------------------------------------


def test_min_notice_is_a_clinic_setting_with_a_default(db) -> None:
    data = demo_clinic()
    data["clinic"].pop("min_notice", None)
    apply_setup(data, STAFF)
    assert clinic_dict(Clinic.get())["min_notice"] == 60
    data["clinic"]["min_notice"] = 15
    apply_setup(data, STAFF)
    assert offer_time.min_notice(Clinic.get()) == 15 == clinic_dict(Clinic.get())["min_notice"]
    data["clinic"]["min_notice"] = 0  # until the slot starts
    apply_setup(data, STAFF)
    assert offer_time.min_notice(Clinic.get()) == 0


@pytest.mark.parametrize("value", [-1, "60", 1.5, True, 10081, [60]])
def test_a_bad_min_notice_is_refused_naming_the_field(db, value: Any) -> None:
    data = demo_clinic()
    data["clinic"]["min_notice"] = value
    with pytest.raises(ValidationError) as info:
        apply_setup(data, STAFF)
    assert info.value.code == 4000 and info.value.field == "clinic.min_notice"
    assert "clinic.min_notice must be a whole number of minutes" in info.value.message
    assert Clinic.select().count() == 0  # nothing written


# --- the deadline ---------------------------------------------------------------------------


def test_the_deadline_is_the_earlier_of_the_hold_and_the_slot_cutoff(clinic: Clinic) -> None:
    today_entry("Ann")
    sent = offers.offer(today_opening("11:00").id, STAFF)[0]
    assert sent.expires_at == at(20, "10:00")  # not 11:30 (now + 120 minutes)
    assert Offer.get_by_id(sent.id).expires_at == at(20, "10:00")
    (message,) = OutboxMessage.select()
    assert "by Fri 20 Nov 10:00" in message.body
    # a Monday slot keeps the plain hold
    add_entry("Bo")
    later = offers.offer(monday_opening().id, STAFF)[0]
    assert later.expires_at == at(20, "11:30")
    # a cutoff the clinic moved since the offer was made caps it too
    set_min_notice(60 * 24 * 3 + 30)  # Monday 09:00 minus 3 days 30 min: Friday 08:30
    assert offers.get_offer(later.id).expires_at == at(20, "08:30")
    assert_rejected(lambda: offers.accept(later.id, STAFF), Conflict, "too late")


def test_nothing_is_offered_accepted_or_opened_past_the_deadline(clinic: Clinic) -> None:
    ann = today_entry("Ann", phone="617-555-0301", priority=1)
    bea = today_entry("Bea", priority=2)
    opening = today_opening("11:00")
    sent = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=1)[0]
    assert sent.entry_id == ann.id
    move_to(at(20, "10:00"))
    too_late = "too late: the slot starts at 11:00 (offers close 60 minutes before)"
    patel = Provider.get(Provider.code == "PATEL")
    err = assert_rejected(lambda: offers.accept(sent.id, STAFF), Conflict, too_late)
    assert err.code == 4090
    assert_rejected(lambda: offers.offer(opening.id, STAFF, entry_id=bea.id), Conflict, "too late")
    assert_rejected(
        lambda: offer_slot(entry_slot(bea, patel.id, at(20, "10:30")), STAFF, entry_id=bea.id),
        ValidationError,
        "too late",
    )
    # by SMS: a YES after the cutoff books nothing
    answer = replies.handle_reply("+16175550301", "YES")
    assert answer.outcome == replies.TOO_LATE and "too late" in answer.detail
    assert Appointment.select().count() == 0 and Offer.get_by_id(sent.id).status == "sent"
    # opening a slot inside the notice, or one that has begun, is refused (4000, field start)
    err = assert_rejected(lambda: today_opening("10:45", "PATEL"), ValidationError, "too late")
    assert err.code == 4000 and err.field == "start"
    assert "the slot starts at 10:45" in err.message
    assert_rejected(lambda: today_opening("09:00", "PATEL"), ValidationError, "in the past")
    assert_rejected(
        lambda: finder.find_for_typed(finder.TypedSlot("PATEL", "today", "10:30", "60")),
        ValidationError,
        "too late",
    )
    assert Opening.select().count() == 1  # nothing was opened
    set_min_notice(0)  # until the slot starts: the same slot is open again for 45 minutes
    assert today_opening("10:45", "PATEL").status == "open"


def test_a_cancelled_appointment_inside_the_notice_opens_nothing(clinic: Clinic) -> None:
    today_entry("Ann")
    opening = today_opening("11:00")
    booked = offers.accept(offers.offer(opening.id, STAFF)[0].id, STAFF)
    move_to(at(20, "10:15"))
    appt, reopened = openings.cancel_appointment(booked.appointment_id, STAFF)
    assert appt.status == "cancelled" and reopened is None
    assert Opening.select().where(Opening.status == "open").count() == 0


# --- quiet hours and notice ---------------------------------------------------------------


def test_a_message_that_cannot_go_before_the_deadline_is_not_sent(clinic: Clinic) -> None:
    """22:00 Friday, a Saturday 09:00 slot: its cutoff (08:00) is when quiet hours end."""
    with frozen_at(at(20, "22:00")):
        add_entry("Ann", date_range_start="2026-11-21")
        opening = openings.add_opening("PATEL", "2026-11-21T09:00", 60, STAFF)
        found = finder.find_for_opening(opening.id)
        assert found.terms is not None  # the finder says so before the offer is made
        assert found.terms.phone_instead == offer_time.PHONE_QUIET
        assert found.terms.message_at is None
        sent = offers.offer(opening.id, STAFF)[0]
    assert sent.phone_instead == offer_time.PHONE_QUIET
    assert sent.to_dict()["phone_instead"].startswith("phone: the message would wait")
    assert sent.expires_at == at(21, "00:00")  # the hold from now: the desk phones now
    assert OutboxMessage.select().count() == 0
    reason = AuditEvent.get(AuditEvent.action == "message.not_sent").changes["reason"][1]
    assert reason == offer_time.PHONE_QUIET


def test_a_sequential_hold_starts_when_its_message_goes_out(clinic: Clinic) -> None:
    with frozen_at(at(20, "22:15")):
        add_entry("Ann", priority=1)
        add_entry("Bo", priority=2)
        seq = offers.offer(monday_opening("09:00").id, STAFF)[0]
        # BROADCAST holds from now: 00:15, before the 08:00 message: phone instead
        wide = offers.offer(monday_opening("13:00").id, STAFF, workflow="BROADCAST", top=1)[0]
    (message,) = OutboxMessage.select()
    assert message.next_attempt_at == at(21, "08:00")
    assert seq.expires_at == at(21, "10:00") and seq.phone_instead == ""
    assert wide.expires_at == at(21, "00:15") and wide.phone_instead == offer_time.PHONE_QUIET
    # never past the slot's cutoff: a Saturday 09:00 slot ends at 08:00 -> phone instead
    with frozen_at(at(20, "23:00")):
        terms = offer_time.terms(Clinic.get(), at(21, "09:00"), 120, at(20, "23:00"), "SEQUENTIAL")
        assert terms.phone_instead and terms.deadline == at(21, "01:00")
        terms = offer_time.terms(Clinic.get(), at(21, "11:00"), 120, at(20, "23:00"), "SEQUENTIAL")
        assert terms.deadline == at(21, "10:00") and terms.capped  # 08:00 + 120 > 11:00 - 60


def test_delivery_drops_a_late_offer_message_and_moves_a_sequential_hold(
    clinic: Clinic, tmp_path: Path
) -> None:
    sink = FileTransport(tmp_path / "out.jsonl")
    chosen = Transports(sink, sink)
    with frozen_at(at(20, "20:50")):  # before quiet hours: both messages are due now
        add_entry("Ann", priority=1)
        add_entry("Bo", priority=2)
        add_entry("Cy", priority=3)
        wide = offers.offer(
            monday_opening("09:00").id, STAFF, workflow="BROADCAST", top=1, hold_minutes=30
        )[0]
        seq = offers.offer(monday_opening("13:00").id, STAFF, hold_minutes=30)[0]
        gone = offers.offer(monday_opening("15:00").id, STAFF, hold_minutes=30)[0]
        offers.rescind(gone.id, STAFF)  # withdrawn before its message went out
    with frozen_at(at(20, "21:05")):  # quiet hours began: delivery would wait until 08:00
        report = delivery.deliver(chosen)
    assert report.sent == 0 and report.dead == 2 and report.deferred == 1
    by_key = {m.idempotency_key: m for m in OutboxMessage.select()}
    late = by_key[f"offer:{wide.id}:v1"]
    assert late.status == "dead" and "after the offer's deadline" in late.last_error
    assert "was rescinded" in by_key[f"offer:{gone.id}:v1"].last_error
    assert offers.get_offer(wide.id).phone_instead.startswith("phone: the message was not sent")
    # the SEQUENTIAL hold moved with its message: 08:00 + 30 minutes
    assert by_key[f"offer:{seq.id}:v1"].next_attempt_at == at(21, "08:00")
    assert Offer.get_by_id(seq.id).expires_at == at(21, "08:30")
    assert AuditEvent.select().where(AuditEvent.action == "offer.hold_moved").count() == 1
    with frozen_at(at(21, "08:10")):  # sent ten minutes late: the hold starts then
        assert delivery.deliver(chosen).sent == 1
        assert Offer.get_by_id(seq.id).expires_at == at(21, "08:40")


# --- the expiry job -------------------------------------------------------------------------


def test_expire_ends_offers_at_the_slot_cutoff_and_closes_the_opening(clinic: Clinic) -> None:
    ann, bea = today_entry("Ann", priority=1), today_entry("Bea", priority=2)
    opening = today_opening("11:00")
    sent = offers.offer(opening.id, STAFF)[0]
    assert sent.entry_id == ann.id
    move_to(at(20, "10:00"))
    counts = expiry.expire()
    assert counts["offers_expired"] == 1 and counts["offers_advanced"] == 0
    assert counts["openings_closed"] == 1
    assert Offer.get_by_id(sent.id).status == "expired" and causes(sent.id) == ["past_deadline"]
    assert Opening.get_by_id(opening.id).status == "closed"  # too late for Bea: it closes
    assert {Entry.get_by_id(e.id).status for e in (ann, bea)} == {"waiting"}


def test_sequential_expiry_offers_the_next_only_while_in_time(clinic: Clinic) -> None:
    today_entry("Ann", priority=1)
    bea = today_entry("Bea", priority=2)
    opening = today_opening("12:00")  # cutoff 11:00
    first = offers.offer(opening.id, STAFF, hold_minutes=60)[0]  # deadline 10:30
    move_to(at(20, "10:30"))
    assert offers.expire_offers()["offers_advanced"] == 1
    (nxt,) = offers.list_offers(opening=opening.id)
    assert nxt.entry_id == bea.id and nxt.expires_at == at(20, "11:00")  # capped, not 12:30
    assert causes(first.id) == ["expired"]


def test_expire_closes_openings_past_their_cutoff_and_started_ones(clinic: Clinic) -> None:
    noon, late = today_opening("12:00"), today_opening("15:00")
    move_to(at(20, "11:00"))
    assert offers.expire_offers()["openings_closed"] == 1
    assert [Opening.get_by_id(o.id).status for o in (noon, late)] == ["closed", "open"]
    set_min_notice(0)
    move_to(at(20, "15:00"))  # it has begun
    assert expiry.expire()["openings_closed"] == 1
    closing = AuditEvent.select().where(AuditEvent.action == "opening.close")
    assert sorted(a.changes["cause"][1] for a in closing) == ["started", "too_late"]


# --- one way an offer ends ------------------------------------------------------------------


def test_a_cancelled_entry_ends_its_offer_the_one_way(clinic: Clinic) -> None:
    ann, bo = add_entry("Ann", priority=1), add_entry("Bo", priority=2)
    sent = offers.offer(monday_opening().id, STAFF)[0]
    delivered()
    changes.cancel(ann.id, STAFF, reason="found another clinic")
    assert Offer.get_by_id(sent.id).status == "rescinded"
    assert causes(sent.id) == ["entry_cancelled"]  # an audit row
    assert kinds("Ann") == ["offer", "offer_withdrawn"]  # texted the offer: told it ended
    assert Entry.get_by_id(ann.id).status == "cancelled"
    assert Entry.get_by_id(bo.id).status == "offered"  # SEQUENTIAL moved on


def test_an_expiring_entry_ends_its_offer_the_one_way(clinic: Clinic) -> None:
    ann = add_entry("Ann", priority=1, expires_at="2026-11-20T16:00:00Z")
    bo = add_entry("Bo", priority=2)
    sent = offers.offer(monday_opening().id, STAFF)[0]
    delivered()
    move_to(pendulum.datetime(2026, 11, 20, 16, 5, tz="UTC"))  # the offer still holds
    assert expiry.expire()["entries_past_expires_at"] == 1
    assert Offer.get_by_id(sent.id).status == "rescinded" and causes(sent.id) == ["entry_expired"]
    assert kinds("Ann") == ["offer", "offer_withdrawn"]
    assert Entry.get_by_id(ann.id).status == "expired"
    assert Entry.get_by_id(bo.id).status == "offered"


def test_a_new_service_ends_the_offer_made_for_the_old_one(clinic: Clinic) -> None:
    ann, bo = add_entry("Ann", priority=1), add_entry("Bo", priority=2)
    sent = offers.offer(monday_opening().id, STAFF)[0]
    changes.update(ann.id, {"service": "PT-FU"}, STAFF)
    assert Offer.get_by_id(sent.id).status == "rescinded" and causes(sent.id) == ["entry_narrowed"]
    assert Entry.get_by_id(ann.id).status == "waiting"
    assert kinds("Ann") == ["offer"]  # its message had not gone out: nothing more to say
    assert Entry.get_by_id(bo.id).status == "offered"


def test_withdrawing_an_opening_ends_its_offers(clinic: Clinic) -> None:
    add_entry("Ann", priority=1)
    add_entry("Bo", priority=2)
    opening = monday_opening()
    ann, bo = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=2)
    OutboxMessage.update(status="sent").where(
        OutboxMessage.idempotency_key == f"offer:{ann.id}:v1"
    ).execute()
    result = offers.withdraw_opening(str(opening.id)[:8], STAFF, note="KIM is off")
    assert result["offers_ended"] == 2 and Opening.get_by_id(opening.id).status == "closed"
    assert {Offer.get_by_id(o.id).status for o in (ann, bo)} == {"rescinded"}
    assert causes(ann.id) == causes(bo.id) == ["opening_withdrawn"]
    assert kinds("Ann") == ["offer", "offer_withdrawn"] and kinds("Bo") == ["offer"]
    assert Entry.select().where(Entry.status == "waiting").count() == 2
    assert_rejected(lambda: offers.withdraw_opening(opening.id, STAFF), Conflict, "is closed")


def test_opting_out_declines_and_moves_on(clinic: Clinic) -> None:
    ann, bo, cy = (add_entry(n, priority=i + 1) for i, n in enumerate(("Ann", "Bo", "Cy")))
    opening = monday_opening()
    first = offers.offer(opening.id, STAFF)[0]
    delivered()
    ended = offers.end_offer(Offer.get_by_id(first.id), "opted_out", "sms", pendulum.now("UTC"))
    assert ended is not None and ended.status == "declined" and ended.cause == "opted_out"
    assert [o.entry_id for o in ended.next_offers] == [bo.id]
    assert kinds("Ann") == ["offer"]  # nothing more is texted to a client who opted out
    second = offers.decline(ended.next_offers[0].id, "sms", note="STOP", cause="opted_out")
    assert [o.entry_id for o in second.next_offers] == [cy.id]
    assert causes(second.offer.id) == ["opted_out"]
    assert offers.end_offer(Offer.get_by_id(first.id), "declined", STAFF, pendulum.now()) is None
    assert_rejected(
        lambda: offers.end_offer(second.next_offers[0].id, "bored", STAFF, pendulum.now()),
        ValidationError,
        "cause must be one of",
    )
    assert Entry.get_by_id(ann.id).status == "waiting"


@pytest.mark.parametrize("bad", [0, -1, True, "3", 2.5, 10**9])
def test_expire_checks_its_arguments_before_writing(clinic: Clinic, bad: Any) -> None:
    add_entry("Ann")
    sent = offers.offer(monday_opening().id, STAFF, hold_minutes=30)[0]
    move_to(pendulum.datetime(2026, 11, 20, 16, tz="UTC"))  # past its hold
    err = assert_rejected(
        lambda: expiry.expire(older_than_days=bad), ValidationError, "older_than_days"
    )
    assert err.code == 4000 and err.field == "older_than_days"
    assert Offer.get_by_id(sent.id).status == "sent"  # nothing written
    assert_rejected(lambda: expiry.expire(actor=""), ValidationError, "actor")
    assert Offer.get_by_id(sent.id).status == "sent"

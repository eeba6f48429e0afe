"""The outbox: messages written with what they tell, templates checked at setup, guardrails."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pendulum
import pytest

from tests.conftest import FROZEN, STAFF
from tests.domain.fill_helpers import add_entry, entry_slot, monday_opening
from tests.domain.test_entries import assert_rejected
from tests.timetravel import frozen_at, move_to
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup, setup_from_file
from waitlist_tui.domain.classes import seats
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.messaging import outbox, templates
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    AuditEvent,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
)


def messages(kind: str | None = None) -> list[OutboxMessage]:
    query = OutboxMessage.select().order_by(OutboxMessage.created_at, OutboxMessage.kind)
    return list(query.where(OutboxMessage.kind == kind) if kind else query)


def test_an_offer_writes_its_message_in_the_clinic_time_zone(clinic: Clinic) -> None:
    entry = add_entry(
        "Ana", client={"first_name": "Ana", "last_name": "Lee", "phone": "617-555-0101"}
    )
    sent = offers.offer(monday_opening("09:00").id, STAFF)[0]
    (message,) = messages()
    assert message.idempotency_key == f"offer:{sent.id}:v1"
    assert (message.kind, message.channel, message.recipient) == ("offer", "sms", "+16175550101")
    assert (message.status, message.attempts, message.last_error) == ("pending", 0, "")
    assert message.next_attempt_at == FROZEN and message.provider_message_id is None
    # 14:00 UTC is 09:00 in New York; the hold ends 120 minutes after 09:30 local
    assert "Mon 23 Nov 09:00" in message.body and "Fri 20 Nov 11:30" in message.body
    assert "Physiotherapy assessment" in message.body and "Dr. Alex Kim" in message.body
    assert "Reply YES" in message.body and f"Ref {str(sent.id)[:6].upper()}" in message.body
    assert message.client_id == Client.get(Client.phone == "+16175550101").id == entry.client.id


def test_no_wrong_article_before_a_service_name(clinic: Clinic) -> None:
    """The shipped wording said "a Acupuncture slot": no article binds to the service now."""
    add_entry(
        "Ida",
        service="ACU",
        client={"first_name": "Ida", "last_name": "Lee", "phone": "617-555-0102"},
    )
    offers.offer(monday_opening("09:00", provider="LINDQVIST").id, STAFF)
    (message,) = messages()
    assert "a slot for Acupuncture with" in message.body
    assert not re.search(r"\ba [AEIOU]", message.body)


def test_booked_and_expired_messages(clinic: Clinic) -> None:
    add_entry("Bo", priority=1)
    add_entry("Cy", priority=2)
    opening = monday_opening()
    first = offers.offer(opening.id, STAFF)[0]
    # delivered (only a client who was texted the offer is texted that it ended)
    OutboxMessage.update(status="sent").where(OutboxMessage.kind == "offer").execute()
    move_to(FROZEN.add(hours=3))  # `frozen` travels back at the end
    offers.expire_offers()
    second = Offer.get(Offer.status == "sent")
    offers.accept(second.id, STAFF)
    keys = sorted(m.idempotency_key for m in messages())
    assert keys == sorted(
        [
            f"offer:{first.id}:v1",
            f"offer:{first.id}:expired:v1",
            f"offer:{second.id}:v1",
            f"offer:{second.id}:booked:v1",
        ]
    )
    assert "booked for Physiotherapy assessment" in messages("booked")[0].body


def test_a_rolled_back_offer_leaves_no_message(clinic: Clinic, monkeypatch) -> None:
    """The audit row written after the message row fails: the offer and its message go."""
    add_entry("Di")
    opening = monday_opening()
    real = audit.record

    def broken(actor, action, *args, **kw):
        if action == "message.queue":
            assert OutboxMessage.select().count() == 1  # written, inside the transaction
            raise RuntimeError("disk full")
        return real(actor, action, *args, **kw)

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        offers.offer(opening.id, STAFF)
    assert OutboxMessage.select().count() == 0 and Offer.select().count() == 0
    assert Entry.select().where(Entry.status == "waiting").count() == 1
    # and a refused offer of a typed-in slot leaves neither the opening nor a message
    monkeypatch.setattr(audit, "record", real)
    entry = add_entry("Ed")
    offers.offer(opening.id, STAFF, entry_id=entry.id)  # Ed is now offered
    before = Opening.select().count()
    with pytest.raises(Conflict):
        provider = Opening.get_by_id(opening.id).provider_id
        offer_slot(entry_slot(entry, provider, FROZEN.add(days=4)), STAFF, entry_id=entry.id)
    assert Opening.select().count() == before and len(messages()) == 1


def test_consent_chooses_the_channel_or_no_message(clinic: Clinic) -> None:
    both = {
        "first_name": "Em",
        "last_name": "Sms",
        "phone": "617-555-0111",
        "email": "em@example.com",
    }
    add_entry("Em", client=both, priority=1)
    client = Client.get(Client.first_name == "Em")
    Client.update(consent_sms=False).where(Client.id == client.id).execute()
    offers.offer(monday_opening("09:00").id, STAFF)
    assert [(m.channel, m.recipient) for m in messages()] == [("email", "em@example.com")]
    email = messages()[0]
    assert email.subject == "A slot for Physiotherapy assessment opened on Mon 23 Nov 09:00"
    Client.update(consent_email=False).where(Client.id == client.id).execute()
    offers.rescind(Offer.get().id, STAFF)
    offers.offer(monday_opening("13:00").id, STAFF)
    assert len(messages()) == 1  # no consent left: no message, an audit row instead
    assert AuditEvent.select().where(AuditEvent.action == "message.not_sent").count() == 1


def test_quiet_hours_hold_a_message_until_they_end(clinic: Clinic) -> None:
    add_entry("Flo")
    late = pendulum.datetime(2026, 11, 20, 22, 15, tz="America/New_York")
    with frozen_at(late):
        offers.offer(monday_opening().id, STAFF, hold_minutes=600)
    (message,) = messages()
    assert message.next_attempt_at == pendulum.datetime(2026, 11, 21, 8, 0, tz="America/New_York")
    assert message.status == "pending"


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-20T20:59", "2026-11-20T20:59"),
        ("2026-11-20T21:00", "2026-11-21T08:00"),
        ("2026-11-21T03:00", "2026-11-21T08:00"),
        ("2026-11-21T08:00", "2026-11-21T08:00"),
        ("2026-03-08T01:30", "2026-03-08T08:00"),  # the night clocks go forward
    ],
)
def test_quiet_until_across_midnight(local: str, expected: str) -> None:
    tz = "America/New_York"
    now = pendulum.parse(local, tz=tz).in_timezone("UTC")
    got = message_settings.quiet_until(now, tz, (21 * 60, 8 * 60))
    assert got == pendulum.parse(expected, tz=tz)


def test_daily_offer_cap_per_client(clinic: Clinic) -> None:
    """Three offers a day to one client (the default); the fourth goes to the next one."""
    ann = add_entry("Ann", priority=1)
    bob = add_entry("Bob", priority=2)
    for hour in ("08:00", "09:00", "10:00"):
        sent = offers.offer(monday_opening(hour).id, STAFF)[0]
        assert sent.entry_id == ann.id
        offers.rescind(sent.id, STAFF)  # the desk withdraws it; Ann waits again
    fourth = monday_opening("11:00")
    assert offers.offer(fourth.id, STAFF)[0].entry_id == bob.id
    offers.rescind(Offer.get(Offer.status == "sent").id, STAFF)
    assert_rejected(
        lambda: offers.offer(fourth.id, STAFF, entry_id=ann.id), Conflict, "daily limit"
    )
    with frozen_at(FROZEN.add(days=1)):  # a new clinic day
        assert offers.offer(fourth.id, STAFF, entry_id=ann.id)[0].entry_id == ann.id


def test_setup_checks_templates_and_messaging_settings(db, tmp_path: Path) -> None:
    data = demo_clinic()
    own = tmp_path / "wording.toml"
    own.write_text('[offer]\nsms = "{clinic}: {service} on {slot}, held until {hold_until}."\n')
    data["messages"] = {
        "templates": "wording.toml",
        "quiet_hours": "22:00-07:30",
        "max_offers_per_day": 2,
    }
    apply_setup(data, STAFF, base_dir=tmp_path)
    settings = message_settings.of(Clinic.get())
    assert settings.quiet_hours == (22 * 60, 7 * 60 + 30) and settings.max_offers_per_day == 2
    assert settings.templates["offer"]["sms"].startswith("{clinic}: {service} on {slot}")
    assert settings.templates["booked"] == templates.defaults()["booked"]  # kept the shipped one
    add_entry("Gus")
    offers.offer(monday_opening().id, STAFF)
    assert messages()[0].body == (
        "Harbour Physio & Wellness: Physiotherapy assessment on Mon 23 Nov 09:00, "
        "held until Fri 20 Nov 11:30."
    )


@pytest.mark.parametrize(
    ("wording", "message"),
    [
        ('[offer]\nsms = "Slot {slot} until {hold_untill}"', "unknown placeholder {hold_untill}"),
        ('[offer]\nsms = "Slot {slot}, reply soon"', "placeholder {hold_until} is missing"),
        ('[booked]\nemail = "Booked {slot.year}"', "must be a plain name"),
        ('[booked]\nemail = "Booked {slot"', "expected '}'"),
        ('[bookd]\nsms = "{slot}"', "bookd is not a message kind"),
        ('[booked]\ntext = "{slot}"', "booked.text is not one of"),
    ],
)
def test_a_broken_template_is_refused_at_setup(db, tmp_path: Path, wording: str, message: str):
    (tmp_path / "wording.toml").write_text(wording + "\n")
    setup = tmp_path / "clinic.toml"
    setup.write_text(
        '[clinic]\ncode = "T"\nname = "T"\ntime_zone = "UTC"\n'
        '[messages]\ntemplates = "wording.toml"\n'
    )
    with pytest.raises(ValidationError) as info:
        setup_from_file(setup, STAFF)
    assert message in info.value.message and info.value.field.startswith(
        ("wording.toml", "messages")
    )
    assert Clinic.select().count() == 0  # nothing written


def test_shipped_templates_are_valid_and_mask_hides_contacts() -> None:
    assert set(templates.defaults()) == set(templates.KINDS)
    assert outbox.mask("+16175550142") == "+1617*****42"
    assert outbox.mask("jane.doe@example.com") == "j***@example.com"
    assert outbox.scrub("550 <Jane.Doe@example.com> unknown", "jane.doe@example.com") == (
        "550 <j***@example.com> unknown"
    )


@pytest.mark.parametrize("mode", ["enroll", "offer"])
def test_a_promoted_class_seat_writes_its_message(clinic: Clinic, mode: str) -> None:
    from tests.domain import test_events as ev

    ev.set_mode(clinic, mode)
    inst = ev.instance(Clinic.get_by_id(clinic.id), capacity=1)
    people = ev.clients(clinic, 2)
    (seated,) = ev.fill(inst, people[:1])
    (queued,) = ev.waitlist(inst, people[1:])
    seats.cancel_enrolment(seated.id, STAFF)
    (message,) = messages()
    kind = "seat_promoted" if mode == "enroll" else "seat_offered"
    assert message.kind == kind and message.client_id == people[1].id
    assert message.idempotency_key == f"enrolment:{queued.id}:{kind}:v1"
    assert "Clinical Pilates class" in message.body
    assert ("Reply YES" in message.body) == (mode == "offer")


def test_writing_the_same_message_twice_keeps_one(clinic: Clinic) -> None:
    add_entry("Hal")
    sent = offers.offer(monday_opening().id, STAFF)[0]
    with database.atomic():
        held = Offer.get_by_id(sent.id)
        again = outbox.tell_offer(held, "offer", offers.offer_parties(held), STAFF, FROZEN)
    assert again is not None and OutboxMessage.select().count() == 1
    assert dt.timedelta(0) == again.next_attempt_at - FROZEN
    # one audit row for the one message (SQLite's last-insert id once said "written" again)
    assert AuditEvent.select().where(AuditEvent.action == "message.queue").count() == 1

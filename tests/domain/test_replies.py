"""Replies by SMS: YES books, NO passes, anything else waits for the desk; only ever the
sender's own offer (4030); a YES too late gets "already filled" back."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain.errors import Forbidden, ValidationError
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.messaging import replies
from waitlist_tui.domain.store.models import Appointment, Clinic, Entry, InboundMessage, Offer
from waitlist_tui.domain.store.models import OutboxMessage as Out

ANN, BOB = "+16175550101", "+16175550102"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YES", ("accept", None)),
        ("yes", ("accept", None)),
        (" Y ", ("accept", None)),
        ("1", ("accept", None)),
        ("Yes!", ("accept", None)),
        ("YES 3F2A9C", ("accept", "3F2A9C")),
        ("no", ("decline", None)),
        ("N", ("decline", None)),
        ("2", ("decline", None)),
        ("No. #ab12cd34", ("decline", "ab12cd34")),
        ("yes please", ("note", None)),
        ("Can I come at 10?", ("note", None)),
        ("yess", ("note", None)),
        ("3", ("note", None)),
        ("", ("note", None)),
        ("YES NO", ("note", None)),
    ],
)
def test_parse(text: str, expected: tuple) -> None:
    assert replies.parse(text) == expected


def two_offers() -> tuple[offers.OfferView, offers.OfferView]:
    """Broadcast: Ann and Bob each hold an offer of the same Monday 09:00 opening."""
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN}, priority=1)
    add_entry("Bob", client={"first_name": "Bob", "last_name": "Wu", "phone": BOB}, priority=2)
    ann, bob = offers.offer(monday_opening().id, STAFF, workflow="BROADCAST", top=2)
    return ann, bob


def test_yes_books_the_senders_offer_and_queues_the_confirmation(clinic: Clinic) -> None:
    ann, bob = two_offers()
    result = replies.handle_reply("(617) 555-0101", "Yes", "sms")
    assert (result.outcome, result.client_name, result.offer_id) == ("accepted", "Ann Lee", ann.id)
    assert Offer.get_by_id(ann.id).status == "accepted"
    assert Offer.get_by_id(bob.id).status == "rescinded"
    assert Appointment.select().count() == 1
    assert result.message_key == f"offer:{ann.id}:booked:v1"
    assert Out.get(Out.idempotency_key == result.message_key).recipient == ANN
    inbound = InboundMessage.get_by_id(result.inbound_id)
    assert (inbound.sender, inbound.outcome, inbound.text) == (ANN, "accepted", "Yes")


def test_a_yes_after_the_opening_was_filled_gets_already_filled_back(clinic: Clinic) -> None:
    _ann, bob = two_offers()
    replies.handle_reply(ANN, "YES")
    late = replies.handle_reply(BOB, "YES")
    assert late.outcome == "already_filled" and late.offer_id == bob.id
    message = Out.get(Out.idempotency_key == f"offer:{bob.id}:filled:v1")
    assert message.recipient == BOB and "already been filled" in message.body
    assert "Mon 23 Nov 09:00" in message.body
    assert Appointment.select().count() == 1 and Offer.get_by_id(bob.id).status == "rescinded"


def test_no_declines_and_sequential_moves_on(clinic: Clinic) -> None:
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN}, priority=1)
    bob = add_entry(
        "Bob", client={"first_name": "Bob", "last_name": "Wu", "phone": BOB}, priority=2
    )
    (sent,) = offers.offer(monday_opening().id, STAFF)
    result = replies.handle_reply(ANN, "no")
    assert result.outcome == "declined" and Offer.get_by_id(sent.id).status == "declined"
    assert Offer.get(Offer.status == "sent").entry_id == bob.id


def test_anything_else_is_kept_for_the_desk(clinic: Clinic) -> None:
    ann, _ = two_offers()
    result = replies.handle_reply(ANN, "Can I come at 10 instead?")
    assert result.outcome == "note" and Offer.get_by_id(ann.id).status == "sent"
    (shown,) = replies.list_replies("note")
    assert (shown.client_name, shown.text, shown.sender) == (
        "Ann Lee",
        "Can I come at 10 instead?",
        "+1617*****01",
    )


def test_a_reply_can_never_take_another_clients_offer(clinic: Clinic) -> None:
    ann, bob = two_offers()
    with pytest.raises(Forbidden) as info:
        replies.handle_reply(ANN, f"YES {str(bob.id)[:6]}")
    assert info.value.code == 4030
    with pytest.raises(Forbidden):
        replies.handle_reply(ANN, "YES", ref=str(bob.id))
    assert Offer.get_by_id(bob.id).status == "sent" and Offer.get_by_id(ann.id).status == "sent"
    assert Appointment.select().count() == 0
    refused = list(InboundMessage.select().where(InboundMessage.outcome == "forbidden"))
    assert len(refused) == 2  # recorded for the desk, though refused
    # with its own reference, the same phone books its own offer
    own = replies.handle_reply(ANN, f"yes {str(ann.id)[:6].upper()}")
    assert own.outcome == "accepted" and Offer.get_by_id(ann.id).status == "accepted"


def test_unknown_sender_no_offer_and_bad_numbers(clinic: Clinic) -> None:
    two_offers()
    assert replies.handle_reply("+16175550999", "YES").outcome == "unknown"
    add_entry("Cy", client={"first_name": "Cy", "last_name": "Po", "phone": "+16175550103"})
    assert replies.handle_reply("+16175550103", "YES").outcome == "no_offer"
    with pytest.raises(ValidationError):
        replies.handle_reply("not a phone", "YES")
    assert Entry.select().where(Entry.status == "offered").count() == 2
    assert InboundMessage.select().count() == 2


def test_a_seat_held_in_a_class_is_taken_by_yes(clinic: Clinic) -> None:
    from tests.domain import test_events as ev
    from waitlist_tui.domain.classes import seats
    from waitlist_tui.domain.store.models import Enrolment

    ev.set_mode(clinic, "offer")
    inst = ev.instance(Clinic.get_by_id(clinic.id), capacity=1)
    people = ev.clients(clinic, 2)
    (seated,) = ev.fill(inst, people[:1])
    (queued,) = ev.waitlist(inst, people[1:])
    seats.cancel_enrolment(seated.id, STAFF)
    result = replies.handle_reply(people[1].phone, "1")
    assert result.outcome == "accepted" and Enrolment.get_by_id(queued.id).status == "enrolled"

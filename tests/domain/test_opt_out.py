"""STOP means stop: the carrier keywords withdraw SMS consent at once, end the client's live SMS
offers, and nothing but the one confirmation goes out by SMS after; START gives it back; HELP
answers with the clinic's contact line. Consent is read again when a message is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.outbox_helpers import a_client, queue_messages, row
from tests.timetravel import move_to
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.messaging import consent, delivery, replies
from waitlist_tui.domain.messaging.transports import FileTransport, Transports
from waitlist_tui.domain.store.models import AuditEvent, Client, Clinic, InboundMessage, Offer
from waitlist_tui.domain.store.models import OutboxMessage as Out

ANN, BOB = "+16175550101", "+16175550102"
POLICY = delivery.RetryPolicy(max_attempts=3, base_seconds=30, cap_seconds=600, jitter=0.0)


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        ("  Stop. ", "opt_out"),
        ("STOPALL", "opt_out"),
        ("unsubscribe", "opt_out"),
        ("Cancel", "opt_out"),
        ("END", "opt_out"),
        ("quit!", "opt_out"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("HELP", "help"),
        ("info?", "help"),
        ("YES", "accept"),
        ("stop texting me", "note"),
        ("STOP 3F2A9C", "note"),
        ("stopp", "note"),
    ],
)
def test_the_carrier_keywords_are_read_before_anything_else(text: str, action: str) -> None:
    assert replies.parse(text)[0] == action


def ann_and_bob_sequential() -> tuple[offers.OfferView, str]:
    """Ann (priority 1) holds the SEQUENTIAL offer of Monday 09:00, sent by SMS; Bob waits."""
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN}, priority=1)
    bob = add_entry(
        "Bob", client={"first_name": "Bob", "last_name": "Wu", "phone": BOB}, priority=2
    )
    (sent,) = offers.offer(monday_opening().id, STAFF)
    assert Out.get(Out.idempotency_key == f"offer:{sent.id}:v1").channel == "sms"
    return sent, bob.id


def ann() -> Client:
    return Client.get(Client.phone == ANN)


def test_stop_opts_out_at_once_and_ends_the_live_sms_offer(clinic: Clinic) -> None:
    sent, bob_entry = ann_and_bob_sequential()
    result = replies.handle_reply("(617) 555-0101", "Stop")
    assert result.outcome == "opted_out" and result.client_name == "Ann Lee"
    assert ann().consent_sms is False and ann().consent_email is True
    audit = AuditEvent.get(AuditEvent.action == "client.consent")
    assert audit.object_id == str(ann().id)
    assert audit.changes == {"consent_sms": [True, False], "why": [None, "texted STOP"]}
    ended = Offer.get_by_id(sent.id)
    assert (ended.status, ended.note) == ("declined", "opted out by STOP")
    assert Offer.get(Offer.status == "sent").entry_id == bob_entry  # SEQUENTIAL moved on
    inbound = InboundMessage.get_by_id(result.inbound_id)
    assert (inbound.outcome, inbound.client_id) == ("opted_out", ann().id)
    assert str(sent.id) in result.detail
    # the one confirmation a carrier requires, to the phone that wrote
    confirm = Out.get(Out.idempotency_key == result.message_key)
    assert (confirm.kind, confirm.channel, confirm.recipient) == ("opted_out", "sms", ANN)
    assert "no more texts" in confirm.body and "START" in confirm.body


def test_after_stop_nothing_else_goes_by_sms(clinic: Clinic) -> None:
    sent, _ = ann_and_bob_sequential()
    replies.handle_reply(ANN, "STOP")
    again = replies.handle_reply(ANN, "stop")
    assert again.outcome == "opted_out" and again.message_key is None  # no second confirmation
    (new,) = offers.offer(monday_opening("10:00").id, STAFF, entry_id=sent.entry_id)
    assert not Out.select().where(Out.idempotency_key == f"offer:{new.id}:v1").exists()
    assert AuditEvent.select().where(AuditEvent.action == "message.not_sent").exists()  # phone
    texts_to_ann = Out.select().where(Out.recipient == ANN, Out.kind != "opted_out")
    assert [m.kind for m in texts_to_ann] == ["offer"]  # only the one sent before STOP
    help_ = replies.handle_reply(ANN, "HELP")  # HELP is answered: the carrier requires it
    assert Out.get(Out.idempotency_key == help_.message_key).kind == "help"


def test_stop_leaves_an_offer_that_went_by_email(clinic: Clinic) -> None:
    add_entry(
        "Ann",
        client={
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": ANN,
            "email": "ann@example.com",
            "consent_sms": "no",
        },
    )
    (sent,) = offers.offer(monday_opening().id, STAFF)
    assert Out.get(Out.idempotency_key == f"offer:{sent.id}:v1").channel == "email"
    result = replies.handle_reply(ANN, "STOP")
    assert result.outcome == "opted_out" and result.message_key is None
    assert Offer.get_by_id(sent.id).status == "sent"


def test_stop_from_a_shared_phone_opts_out_every_client_on_it(clinic: Clinic) -> None:
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN})
    add_entry("Kid", client={"first_name": "Kid", "last_name": "Lee", "phone": ANN})
    result = replies.handle_reply(ANN, "UNSUBSCRIBE")
    assert result.outcome == "opted_out"
    assert [c.consent_sms for c in Client.select().where(Client.phone == ANN)] == [False, False]
    assert AuditEvent.select().where(AuditEvent.action == "client.consent").count() == 2
    assert Out.select().where(Out.kind == "opted_out").count() == 1


def test_start_opts_back_in_and_yes_still_accepts(clinic: Clinic) -> None:
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN})
    replies.handle_reply(ANN, "STOP")
    result = replies.handle_reply(ANN, "start")
    assert result.outcome == "opted_in" and ann().consent_sms is True
    assert Out.get(Out.idempotency_key == result.message_key).kind == "opted_in"
    changes = [
        a.changes["consent_sms"]
        for a in AuditEvent.select()
        .where(AuditEvent.action == "client.consent")
        .order_by(AuditEvent.id)
    ]
    assert changes == [[True, False], [False, True]]
    assert replies.handle_reply(ANN, "UNSTOP").message_key is None  # already in
    (sent,) = offers.offer(monday_opening().id, STAFF)
    assert replies.handle_reply(ANN, "YES").outcome == "accepted"
    assert Offer.get_by_id(sent.id).status == "accepted"


def test_help_answers_with_the_clinics_contact_line(clinic: Clinic) -> None:
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN})
    result = replies.handle_reply(ANN, "help")
    assert result.outcome == "help"
    message = Out.get(Out.idempotency_key == result.message_key)
    assert message.body.startswith("Harbour Physio & Wellness, +1 617 555 0100.")
    assert "STOP" in message.body and message.recipient == ANN
    assert InboundMessage.get_by_id(result.inbound_id).outcome == "help"
    clinic.settings = {**clinic.settings, "consent": {"default": "yes", "contact_line": ""}}
    clinic.save()
    assert consent.help_text(clinic).startswith("Harbour Physio & Wellness. Reply STOP")


def test_a_stranger_texting_stop_changes_nothing(clinic: Clinic) -> None:
    add_entry("Ann", client={"first_name": "Ann", "last_name": "Lee", "phone": ANN})
    assert replies.handle_reply("+16175550999", "STOP").outcome == "unknown"
    assert ann().consent_sms is True and Out.select().count() == 0


def delivered(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_message_queued_before_stop_is_dropped_at_send_time(
    clinic: Clinic, tmp_path: Path
) -> None:
    sent, _ = ann_and_bob_sequential()
    offer_key = f"offer:{sent.id}:v1"
    confirm = replies.handle_reply(ANN, "STOP").message_key
    move_to(pendulum.datetime(2026, 11, 20, 23, 0, tz="America/New_York"))  # quiet hours
    file = FileTransport(tmp_path / "out.jsonl")
    report = delivery.deliver(Transports(file, file), policy=POLICY)
    assert row(offer_key).status == "dead"
    assert row(offer_key).last_error == "no sms consent at send time (withdrawn or not given)"
    assert row(confirm).status == "sent"  # the carrier's confirmation: at once, once
    keys = [line["idempotency_key"] for line in delivered(tmp_path / "out.jsonl")]
    assert confirm in keys and offer_key not in keys
    assert report.dead >= 1 and report.sent >= 1


def test_consent_is_read_again_on_every_channel_at_send_time(
    clinic: Clinic, tmp_path: Path
) -> None:
    client = a_client(clinic)
    (sms,) = queue_messages(clinic, client, 1)
    email_key = "test:email:v1"
    Out.insert(
        **{
            k: v
            for k, v in Out.get(Out.idempotency_key == sms).__data__.items()
            if k not in ("id", "idempotency_key", "channel", "recipient")
        },
        idempotency_key=email_key,
        channel="email",
        recipient=client.email,
    ).execute()
    fax_key = "test:fax:v1"
    Out.update(idempotency_key=fax_key, channel="fax").where(Out.idempotency_key == sms).execute()
    Client.update(consent_email=False).where(Client.id == client.id).execute()
    file = FileTransport(tmp_path / "out.jsonl")
    delivery.deliver(Transports(file, file), policy=POLICY)
    assert (row(email_key).status, row(email_key).last_error) == (
        "dead",
        "no email consent at send time (withdrawn or not given)",
    )
    assert (row(fax_key).status, row(fax_key).last_error) == (
        "dead",
        "no consent for channel 'fax'",
    )
    assert delivered(tmp_path / "out.jsonl") == []

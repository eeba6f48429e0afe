"""Twilio's webhooks on the served desk: signed with the twilio library's own signing code
(RequestValidator.compute_signature) for the public URL; unsigned, wrongly signed, or signed
for another URL: 403 and nothing changes; a replayed MessageSid acts once; status callbacks
out of order or twice leave the right final state. And the whole loop, end to end."""

from __future__ import annotations

import random

import pytest
from twilio.request_validator import RequestValidator

from tests import twilio_fake
from tests.domain.test_replies import ANN, BOB, two_offers
from waitlist_tui.domain.messaging import delivery, transports, twilio_sms
from waitlist_tui.domain.messaging.transports import Transports
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    InboundMessage,
    Offer,
    OutboxMessage,
)
from waitlist_tui.web.app import make_app
from waitlist_tui.web.settings import WebSettings

PUBLIC = "https://desk.example.org"
TOKEN = twilio_fake.AUTH_TOKEN
ENV = {
    "TWILIO_ACCOUNT_SID": twilio_fake.ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": TOKEN,
    "TWILIO_FROM": twilio_fake.FROM,
    "WAITLIST_PUBLIC_URL": PUBLIC,
}
INBOUND, STATUS = "/sms/twilio/inbound", "/sms/twilio/status"


@pytest.fixture
async def hooks(aiohttp_client, db, db_url):
    settings = WebSettings(db_url=db_url, public_url=PUBLIC, env=ENV)
    return await aiohttp_client(make_app(settings))


def signed(path: str, form: dict[str, str], token: str = TOKEN, base: str = PUBLIC) -> dict:
    signature = RequestValidator(token).compute_signature(base + path, form)
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


def text_from(phone: str, body: str, sid: str = "SM" + "1" * 32) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": twilio_fake.ACCOUNT_SID,
        "From": phone,
        "To": twilio_fake.FROM,
        "Body": body,
        "NumMedia": "0",
    }


async def test_a_signed_yes_books_the_senders_offer_with_empty_twiml(clinic, hooks) -> None:
    ann, bob = two_offers()
    answer = await hooks.post(INBOUND, **signed(INBOUND, text_from(ANN, "YES")))
    assert answer.status == 200 and answer.content_type == "text/xml"
    assert await answer.text() == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert Offer.get_by_id(ann.id).status == "accepted"
    assert Offer.get_by_id(bob.id).status == "rescinded"
    assert InboundMessage.get().provider_message_id == "SM" + "1" * 32


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong token", "another URL", "the server's own host", "body changed"],
)
async def test_a_request_not_signed_by_twilio_for_this_url_is_refused(clinic, hooks, how) -> None:
    ann, _ = two_offers()
    before = Offer.get_by_id(ann.id).status
    form = text_from(ANN, "YES")
    if how == "unsigned":
        request: dict = {"data": form}
    elif how == "wrong token":
        request = signed(INBOUND, form, token="another-accounts-token-000000000")
    elif how == "another URL":
        request = signed(INBOUND, form, base="https://elsewhere.example.org")
    elif how == "the server's own host":  # behind a proxy only the public URL counts
        request = signed(INBOUND, form, base=str(hooks.make_url("")).rstrip("/"))
    else:
        request = signed(INBOUND, form)
        request["data"] = {**form, "Body": "NO"}
    answer = await hooks.post(INBOUND, **request)
    assert answer.status == 403
    assert Offer.get_by_id(ann.id).status == before
    assert InboundMessage.select().count() == 0
    assert Appointment.select().count() == 0


async def test_a_replayed_text_is_acknowledged_and_acts_once(clinic, hooks) -> None:
    _ann, bob = two_offers()
    first = signed(INBOUND, text_from(BOB, "NO", sid="SM" + "2" * 32))
    assert (await hooks.post(INBOUND, **first)).status == 200
    trail = AuditEvent.select().count()
    again = await hooks.post(INBOUND, **first)
    assert again.status == 200
    assert InboundMessage.select().count() == 1 and AuditEvent.select().count() == trail
    assert Offer.get_by_id(bob.id).status == "declined"


async def test_stop_by_webhook_withdraws_consent_like_the_reply_command(clinic, hooks) -> None:
    ann, _ = two_offers()
    answer = await hooks.post(INBOUND, **signed(INBOUND, text_from(ANN, "STOP")))
    assert answer.status == 200
    assert InboundMessage.get().outcome == "opted_out"
    assert Offer.get_by_id(ann.id).status == "declined"


def sent_offer_text() -> OutboxMessage:
    row = OutboxMessage.select().where(OutboxMessage.recipient == ANN).get()
    OutboxMessage.update(status="sent", provider_message_id="SM" + "a" * 32).where(
        OutboxMessage.id == row.id
    ).execute()
    return row


def status_of(state: str, code: str | None = None) -> dict[str, str]:
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": state, "AccountSid": "AC1"}
    if code:
        form["ErrorCode"] = code
    return form


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["queued", "sent", "delivered"], "delivered"),
        (["delivered", "sent", "queued"], "delivered"),  # out of order
        (["sent", "undelivered", "undelivered", "sent"], "undelivered"),  # twice, then late
        (["failed", "delivered"], "failed"),  # a final status is never replaced
    ],
)
async def test_status_callbacks_in_any_order_leave_the_final_state(
    clinic, hooks, sequence, final
) -> None:
    two_offers()
    row = sent_offer_text()
    for state in sequence:
        code = "30003" if state in ("undelivered", "failed") else None
        answer = await hooks.post(STATUS, **signed(STATUS, status_of(state, code)))
        assert answer.status == 204
    kept = OutboxMessage.get_by_id(row.id)
    assert kept.delivery_status == final
    changes = AuditEvent.select().where(AuditEvent.action == "message.delivery").count()
    assert changes == _moves(sequence)  # a repeat or older news writes nothing


def _moves(sequence: list[str]) -> int:
    rank = {"queued": 0, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
    kept, moves = -1, 0
    for state in sequence:
        if rank[state] > kept:
            kept, moves = rank[state], moves + 1
    return moves


async def test_an_unsigned_status_callback_changes_nothing(clinic, hooks) -> None:
    two_offers()
    row = sent_offer_text()
    answer = await hooks.post(STATUS, **signed(STATUS, status_of("delivered"), token="x" * 32))
    assert answer.status == 403 and OutboxMessage.get_by_id(row.id).delivery_status is None


async def test_the_whole_loop_offer_texted_yes_by_webhook_receipt_kept(clinic, hooks) -> None:
    """An opening, offers texted through the fake Twilio, a signed YES booking it, the
    delivery receipt recorded, the confirmation texted; the other candidate's offer is
    rescinded and his late YES gets "already filled" back (through Twilio too)."""
    fake = twilio_fake.FakeTwilio()
    server = twilio_fake.start(fake)
    try:
        transport = transports.build("twilio", ENV, None, "sms")  # type: ignore[arg-type]
        assert isinstance(transport, twilio_sms.TwilioTransport)
        transport.base_url = fake.url
        transport.rate = twilio_sms.RateLimit(sleep=lambda s: None)
        chosen = Transports(transport, transport)
        ann, bob = two_offers()
        report = delivery.deliver(chosen, rng=random.Random(1))
        assert report.sent == 2 and {m["To"] for m in fake.sent} == {ANN, BOB}
        callback_url = f"{PUBLIC}{STATUS}?clinic={clinic.code}"
        assert all(m["StatusCallback"] == callback_url for m in fake.sent)
        ann_text = next(m for m in fake.sent if m["To"] == ANN)

        answer = await hooks.post(INBOUND, **signed(INBOUND, text_from(ANN, "YES")))
        assert answer.status == 200
        assert Offer.get_by_id(ann.id).status == "accepted" and Appointment.select().count() == 1

        callback = {"MessageSid": ann_text["sid"], "MessageStatus": "delivered"}
        path = callback_url.removeprefix(PUBLIC)  # signed as Twilio signs: with the query
        assert (await hooks.post(path, **signed(path, callback))).status == 204
        row = OutboxMessage.get(OutboxMessage.provider_message_id == ann_text["sid"])
        assert row.delivery_status == "delivered"

        assert Offer.get_by_id(bob.id).status == "rescinded"
        late = signed(INBOUND, text_from(BOB, "YES", sid="SM" + "3" * 32))
        assert (await hooks.post(INBOUND, **late)).status == 200  # Bob: already filled
        delivery.deliver(chosen, rng=random.Random(2))
        told = {m["To"]: m["Body"] for m in fake.sent[2:]}
        assert set(told) == {ANN, BOB}  # Ann's booking confirmed, Bob told it is filled
        assert "already been filled" in told[BOB]
    finally:
        server.shutdown()
        server.server_close()

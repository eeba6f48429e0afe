"""Vonage's webhooks on the served desk, signed with the vonage library's own signing code
(Auth.sign_params, as Vonage signs with the account's signature secret): GET, form POST and
JSON POST read alike; unsigned, wrongly signed, changed, replayed long after, or for another
account: 403 and nothing changes; a repeated messageId acts once; delivery receipts out of
order or twice leave the right final state. And the loop through the stand-in SMS API."""

from __future__ import annotations

import random

import pytest
from vonage import Auth

from tests import vonage_fake
from tests.domain.test_replies import ANN, BOB, two_offers
from waitlist_tui.domain import clock
from waitlist_tui.domain.messaging import delivery, transports, vonage_sms
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
SECRET = vonage_fake.SIGNATURE_SECRET
ENV = {
    "VONAGE_API_KEY": vonage_fake.API_KEY,
    "VONAGE_API_SECRET": vonage_fake.API_SECRET,
    "VONAGE_FROM": vonage_fake.FROM,
    "VONAGE_SIGNATURE_SECRET": SECRET,
    "WAITLIST_PUBLIC_URL": PUBLIC,
}
INBOUND, STATUS = "/sms/vonage/inbound", "/sms/vonage/status"


@pytest.fixture
async def hooks(aiohttp_client, db, db_url):
    settings = WebSettings(db_url=db_url, public_url=PUBLIC, env=ENV)
    return await aiohttp_client(make_app(settings))


def sign(params: dict, secret: str = SECRET, seconds_ago: int = 0) -> dict:
    stamp = int(clock.now().timestamp()) - seconds_ago
    out = {**params, "timestamp": str(stamp)}
    auth = Auth(api_key=vonage_fake.API_KEY, signature_secret=secret, signature_method="sha256")
    out["sig"] = auth.sign_params(dict(out))
    return out


def text_from(phone: str, body: str, message_id: str = "0B00000001") -> dict[str, str]:
    return {
        "msisdn": phone.lstrip("+"),
        "to": vonage_fake.FROM.lstrip("+"),
        "messageId": message_id,
        "text": body,
        "type": "text",
        "keyword": body.split()[0].upper(),
        "api-key": vonage_fake.API_KEY,
        "message-timestamp": "2026-11-20 10:00:00",
    }


async def post(hooks, path: str, params: dict, how: str = "form"):
    if how == "get":
        return await hooks.get(path, params=params)
    if how == "json":
        return await hooks.post(path, json=params)
    return await hooks.post(path, data=params)


@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_a_signed_yes_books_the_senders_offer(clinic, hooks, how) -> None:
    ann, bob = two_offers()
    answer = await post(hooks, INBOUND, sign(text_from(ANN, "YES")), how)
    assert answer.status == 204
    assert Offer.get_by_id(ann.id).status == "accepted"
    assert Offer.get_by_id(bob.id).status == "rescinded"
    assert InboundMessage.get().provider_message_id == "0B00000001"


@pytest.mark.parametrize(
    "how", ["unsigned", "wrong secret", "body changed", "replayed later", "another account"]
)
async def test_a_request_not_signed_by_vonage_is_refused(clinic, hooks, how) -> None:
    ann, _ = two_offers()
    before = Offer.get_by_id(ann.id).status
    params = text_from(ANN, "YES")
    if how == "unsigned":
        request = {**params, "timestamp": str(int(clock.now().timestamp()))}
    elif how == "wrong secret":
        request = sign(params, secret="another-accounts-secret-000000000")
    elif how == "body changed":
        request = {**sign(params), "text": "NO"}
    elif how == "replayed later":
        request = sign(params, seconds_ago=600)
    else:
        request = sign({**params, "api-key": "ffff0000"})
    answer = await post(hooks, INBOUND, request)
    assert answer.status == 403
    assert Offer.get_by_id(ann.id).status == before
    assert InboundMessage.select().count() == 0 and Appointment.select().count() == 0


async def test_a_repeated_text_acts_once(clinic, hooks) -> None:
    _ann, bob = two_offers()
    request = sign(text_from(BOB, "NO", message_id="0B00000002"))
    assert (await post(hooks, INBOUND, request)).status == 204
    trail = AuditEvent.select().count()
    assert (await post(hooks, INBOUND, request, "get")).status == 204
    assert InboundMessage.select().count() == 1 and AuditEvent.select().count() == trail
    assert Offer.get_by_id(bob.id).status == "declined"


def sent_offer_text() -> OutboxMessage:
    row = OutboxMessage.select().where(OutboxMessage.recipient == ANN).get()
    OutboxMessage.update(status="sent", provider_message_id="0C00000001").where(
        OutboxMessage.id == row.id
    ).execute()
    return row


def receipt(status: str, err: str = "0") -> dict[str, str]:
    return {
        "msisdn": ANN.lstrip("+"),
        "to": "447700900000",
        "messageId": "0C00000001",
        "status": status,
        "err-code": err,
        "network-code": "23410",
        "api-key": vonage_fake.API_KEY,
    }


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["buffered", "accepted", "delivered"], "delivered"),
        (["delivered", "accepted", "buffered"], "delivered"),  # out of order
        (["accepted", "expired", "expired", "accepted"], "undelivered"),  # twice, then late
        (["rejected", "delivered"], "failed"),  # a final status is never replaced
    ],
)
async def test_receipts_in_any_order_leave_the_final_state(clinic, hooks, sequence, final) -> None:
    two_offers()
    row = sent_offer_text()
    for state in sequence:
        err = "0" if state in ("delivered", "accepted", "buffered") else "6"
        answer = await post(hooks, STATUS, sign(receipt(state, err)), "json")
        assert answer.status == 204
    kept = OutboxMessage.get_by_id(row.id)
    assert kept.delivery_status == final
    assert kept.delivery_error == (None if final == "delivered" else "6")


async def test_an_unsigned_receipt_changes_nothing(clinic, hooks) -> None:
    two_offers()
    row = sent_offer_text()
    answer = await post(hooks, STATUS, sign(receipt("delivered"), secret="x" * 32))
    assert answer.status == 403 and OutboxMessage.get_by_id(row.id).delivery_status is None


async def test_the_whole_loop_through_vonage(clinic, hooks, tmp_path, monkeypatch) -> None:
    """Offers texted through the stand-in SMS API, a signed YES booking Ann's, her text's
    receipt kept, Bob's late YES answered "already filled" through Vonage too."""
    fake = vonage_fake.FakeVonage()
    server = vonage_fake.start(fake, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.cafile)
    try:
        env = {**ENV, "VONAGE_REST_HOST": fake.host}
        transport = transports.build("vonage", env, None, "sms")  # type: ignore[arg-type]
        assert isinstance(transport, vonage_sms.VonageTransport)
        transport.rate = vonage_sms.RateLimit(sleep=lambda s: None)
        chosen = Transports(transport, transport)
        ann, bob = two_offers()
        assert delivery.deliver(chosen, rng=random.Random(1)).sent == 2
        assert {m["to"] for m in fake.sent} == {ANN.lstrip("+"), BOB.lstrip("+")}
        callback = f"{PUBLIC}{STATUS}?clinic={clinic.code}"
        assert all(m["callback"] == callback for m in fake.sent)
        ann_text = next(m for m in fake.sent if m["to"] == ANN.lstrip("+"))

        assert (await post(hooks, INBOUND, sign(text_from(ANN, "YES")))).status == 204
        assert Offer.get_by_id(ann.id).status == "accepted" and Appointment.select().count() == 1

        done = {**receipt("delivered"), "messageId": ann_text["message-id"]}
        path = callback.removeprefix(PUBLIC)
        assert (await post(hooks, path, sign(done), "get")).status == 204
        row = OutboxMessage.get(OutboxMessage.provider_message_id == ann_text["message-id"])
        assert row.delivery_status == "delivered"

        assert Offer.get_by_id(bob.id).status == "rescinded"
        late = sign(text_from(BOB, "YES", message_id="0B00000003"))
        assert (await post(hooks, INBOUND, late)).status == 204
        delivery.deliver(chosen, rng=random.Random(2))
        told = {m["to"]: m["text"] for m in fake.sent[2:]}
        assert set(told) == {ANN.lstrip("+"), BOB.lstrip("+")}
        assert "already been filled" in told[BOB.lstrip("+")]
    finally:
        server.shutdown()
        server.server_close()

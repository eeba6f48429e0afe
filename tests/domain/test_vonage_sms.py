"""The Vonage transport against a stand-in for Vonage's SMS API on 127.0.0.1 (over TLS, as
the library speaks only HTTPS): basic auth with the API key and secret, the form fields, its
message-id kept on the outbox row, its errors sorted into retry and give up, the secret never
in a message, log line or row, the per-clinic rate; and the webhook signature check with the
library's own signing code."""

from __future__ import annotations

import datetime as dt
import logging
import random

import pytest
from vonage import Auth

from tests import vonage_fake
from tests.domain.outbox_helpers import a_client, queue_messages, row
from tests.domain.test_delivery import drain
from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import delivery, transports, vonage_sms
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.messaging.transports import Outgoing, TransportError, Transports
from waitlist_tui.domain.store.models import AuditEvent, Clinic

ENV = {
    "VONAGE_API_KEY": vonage_fake.API_KEY,
    "VONAGE_API_SECRET": vonage_fake.API_SECRET,
    "VONAGE_FROM": vonage_fake.FROM,
    "VONAGE_SIGNATURE_SECRET": vonage_fake.SIGNATURE_SECRET,
    "WAITLIST_PUBLIC_URL": "https://desk.example.org",
}
POLICY = delivery.RetryPolicy(max_attempts=4, base_seconds=30, cap_seconds=600, jitter=0.2)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    fake = vonage_fake.FakeVonage()
    server = vonage_fake.start(fake, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.cafile)  # trust the stand-in's certificate
    yield fake
    server.shutdown()
    server.server_close()


def vonage(fake, env=ENV) -> vonage_sms.VonageTransport:
    transport = transports.build("vonage", {**env, "VONAGE_REST_HOST": fake.host}, None, "sms")  # type: ignore[arg-type]
    assert isinstance(transport, vonage_sms.VonageTransport)
    transport.timeout = 2
    transport.rate = vonage_sms.RateLimit(sleep=lambda s: None)
    return transport


def outgoing(to: str = "+447700900142", body: str = "Hello", **kw) -> Outgoing:
    return Outgoing("offer:1:v1", "sms", to, "", body, "main", kw.get("sms"))


def test_a_text_goes_with_basic_auth_and_the_sms_apis_form_fields(fake) -> None:
    message_id = vonage(fake).send(outgoing())
    [sent] = fake.sent
    assert message_id == sent["message-id"]
    assert sent["to"] == "447700900142" and sent["text"] == "Hello"
    assert sent["from"] == vonage_fake.FROM.lstrip("+")
    assert sent["client-ref"] == "offer:1:v1" and "type" not in sent
    assert sent["callback"] == "https://desk.example.org/sms/vonage/status?clinic=main"
    assert fake.refused_auth == 0


def test_a_text_gsm_cannot_carry_goes_as_unicode(fake) -> None:
    vonage(fake).send(outgoing(body="Rendez-vous le 15 ao\u00fbt"))
    assert fake.sent[0]["type"] == "unicode"


def test_a_wrong_secret_is_refused_retried_and_never_shown(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env = {**ENV, "VONAGE_API_SECRET": "wrong-secret-wrong-secret"}
    with pytest.raises(TransportError) as err:
        vonage(fake, env).send(outgoing())
    assert fake.refused_auth == 1 and err.value.permanent is False  # fix it, they go
    assert "wrong-secret" not in str(err.value) and "wrong-secret" not in caplog.text
    assert vonage_fake.API_SECRET not in repr(vonage(fake))
    vonage(fake).send(outgoing())  # the right secret, a second client
    assert vonage_fake.API_SECRET not in caplog.text


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(1, False), (5, False), (429, False), (500, False), (3, True), (7, True), (15, True)],
)
def test_vonage_errors_are_sorted_into_retry_and_give_up(fake, code, permanent) -> None:
    fake.script["447700900142"] = [code]
    with pytest.raises(TransportError) as err:
        vonage(fake).send(outgoing())
    assert err.value.permanent is permanent
    assert str(code) in str(err.value) and "447700900142" not in str(err.value)


def test_no_answer_is_retried(fake) -> None:
    transport = vonage(fake)
    transport.rest_host = "127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(TransportError) as err:
        transport.send(outgoing())
    assert err.value.permanent is False and "no answer" in str(err.value)


def test_the_outbox_keeps_vonages_id_retries_throttling_and_gives_up_on_barred(
    clinic: Clinic, fake, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    client = a_client(clinic)
    keys = queue_messages(clinic, client, 3)
    fake.script[client.phone.lstrip("+")] = [1, 500, 7]  # throttled, outage, then barred
    transport = vonage(fake)
    drain(Transports(transport, transport), random.Random(3), POLICY)
    assert sorted(row(k).status for k in keys) == ["dead", "sent", "sent"]
    sent = [row(k) for k in keys if row(k).status == "sent"]
    assert {m.provider_message_id for m in sent} == {s["message-id"] for s in fake.sent}
    dead = next(row(k) for k in keys if row(k).status == "dead")
    assert "vonage error 7" in dead.last_error and client.phone not in dead.last_error
    assert dead.attempts == 1  # barred: never tried again
    trail = " ".join(str(e.changes) for e in AuditEvent.select())
    assert vonage_fake.API_SECRET not in trail and vonage_fake.API_SECRET not in caplog.text


def test_a_clinics_settings_choose_vonage_its_sender_and_rate() -> None:
    checked = message_settings.parse(
        {
            "sms": {
                "provider": "vonage",
                "api_key": "abcd1234",
                "from": "Harbour",
                "max_per_minute": 30,
            }
        },
        None,
    )
    assert checked.sms == {
        "provider": "vonage",
        "api_key": "abcd1234",
        "from": "Harbour",
        "api_secret_env": "VONAGE_API_SECRET",
        "signature_secret_env": "VONAGE_SIGNATURE_SECRET",
        "signature_method": "sha256",
        "max_per_minute": 30,
    }
    for bad, field in (
        ({"api_secret": "s3cret-value"}, "messages.sms.api_secret"),
        ({"signature_secret": "s3cret-value"}, "messages.sms.signature_secret"),
        ({"api_key": "no!"}, "messages.sms.api_key"),
        ({"from": "A sender name too long"}, "messages.sms.from"),
        ({"signature_method": "crc32"}, "messages.sms.signature_method"),
        ({"account_sid": "AC" + "0" * 32}, "messages.sms.account_sid"),  # Twilio's, not Vonage's
    ):
        with pytest.raises(ValidationError) as err:
            message_settings.parse({"sms": {"provider": "vonage", **bad}}, None)
        assert err.value.field == field and 4000 <= err.value.code < 5000
        assert "s3cret" not in err.value.message


def test_the_secret_is_read_from_the_variable_the_clinic_names(fake) -> None:
    env = {**ENV, "VONAGE_API_SECRET": "", "CLINIC_A_VONAGE": vonage_fake.API_SECRET}
    transport = vonage(fake, env)
    assert transport.send(outgoing(sms={"provider": "vonage", "api_secret_env": "CLINIC_A_VONAGE"}))
    with pytest.raises(TransportError) as err:
        transport.send(outgoing())
    assert "$VONAGE_API_SECRET" in str(err.value)


def test_a_clinic_set_up_for_twilio_is_not_texted_through_vonage(fake) -> None:
    with pytest.raises(TransportError) as err:
        vonage(fake).send(outgoing(sms={"provider": "twilio"}))
    assert "twilio" in str(err.value) and not fake.sent


def test_sms_through_vonage_is_a_transport_choice() -> None:
    chosen = transports.from_env({**ENV, "WAITLIST_SMS_TRANSPORT": "vonage"}, default_file=None)
    assert isinstance(chosen.sms, vonage_sms.VonageTransport)


def signed_params(params: dict, secret: str = vonage_fake.SIGNATURE_SECRET, **kw) -> dict:
    """Signed as Vonage signs a webhook, with the library's own code."""
    stamp = kw.get("at", clock.now())
    out = {**params, "timestamp": str(int(stamp.timestamp()))}
    auth = Auth(api_key=vonage_fake.API_KEY, signature_secret=secret, signature_method="sha256")
    out["sig"] = auth.sign_params(dict(out))
    return out


@pytest.mark.parametrize("how", ["good", "wrong secret", "changed", "old", "unsigned", "account"])
def test_a_webhook_signature_is_checked_with_the_librarys_code(how) -> None:
    params = {
        "msisdn": "447700900142",
        "text": "YES",
        "messageId": "0A0000001",
        "api-key": "a1b2c3d4",
    }
    now = clock.now()
    if how == "wrong secret":
        signed = signed_params(params, secret="another-accounts-secret-0000000")
    elif how == "old":
        signed = signed_params(params, at=now - dt.timedelta(minutes=6))
    elif how == "unsigned":
        signed = {**params, "timestamp": str(int(now.timestamp()))}
    elif how == "account":
        signed = signed_params({**params, "api-key": "ffff0000"})
    else:
        signed = signed_params(params)
    if how == "changed":
        signed["text"] = "NO"
    ok = vonage_sms.signature_ok(
        signed, vonage_fake.SIGNATURE_SECRET, "sha256", vonage_fake.API_KEY, now
    )
    assert ok is (how == "good")

"""The Twilio transport against a stand-in for Twilio's REST API on 127.0.0.1: basic auth,
form fields, its sid kept on the outbox row, its errors sorted into retry and give up, the
token never in a message, log line or row, and the per-clinic send-rate limit."""

from __future__ import annotations

import logging
import random
import socket

import pytest

from tests import twilio_fake
from tests.domain.outbox_helpers import a_client, queue_messages, row
from tests.domain.test_delivery import drain
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import delivery, transports, twilio_sms
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.messaging.transports import Outgoing, TransportError, Transports
from waitlist_tui.domain.store.models import AuditEvent, Clinic

ENV = {
    "TWILIO_ACCOUNT_SID": twilio_fake.ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": twilio_fake.AUTH_TOKEN,
    "TWILIO_FROM": twilio_fake.FROM,
    "WAITLIST_PUBLIC_URL": "https://desk.example.org",
}
POLICY = delivery.RetryPolicy(max_attempts=4, base_seconds=30, cap_seconds=600, jitter=0.2)


@pytest.fixture
def fake():
    fake = twilio_fake.FakeTwilio()
    server = twilio_fake.start(fake)
    yield fake
    server.shutdown()
    server.server_close()


def twilio(fake, env=ENV, **kw) -> twilio_sms.TwilioTransport:
    transport = transports.build("twilio", env, None, "sms")  # type: ignore[arg-type]
    assert isinstance(transport, twilio_sms.TwilioTransport)
    transport.base_url = fake.url
    transport.timeout = kw.get("timeout", 2.0)
    transport.rate = kw.get("rate", twilio_sms.RateLimit(sleep=lambda s: None))
    return transport


def outgoing(to: str = "+16175550142", **kw) -> Outgoing:
    return Outgoing("k1", "sms", to, "", "Hello", "main", kw.get("sms"))


def test_a_text_goes_with_basic_auth_and_twilios_form_fields(fake) -> None:
    sid = twilio(fake).send(outgoing())
    assert sid.startswith("SM") and len(sid) == 34
    [sent] = fake.sent
    assert sent["To"] == "+16175550142" and sent["Body"] == "Hello"
    assert sent["From"] == twilio_fake.FROM
    assert sent["StatusCallback"] == "https://desk.example.org/sms/twilio/status?clinic=main"
    assert fake.refused_auth == 0


def test_a_messaging_service_sends_instead_of_a_from_number(fake) -> None:
    service = "MG" + "ab" * 16
    twilio(fake).send(outgoing(sms={"messaging_service_sid": service, "from": None}))
    assert fake.sent[0]["MessagingServiceSid"] == service and "From" not in fake.sent[0]


def test_a_wrong_token_is_refused_retried_and_never_shown(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env = {**ENV, "TWILIO_AUTH_TOKEN": "wrong-token-wrong-token-wrong-00"}
    with pytest.raises(TransportError) as err:
        twilio(fake, env).send(outgoing())
    assert fake.refused_auth == 1 and err.value.permanent is False  # fix it, they go
    assert "wrong-token" not in str(err.value) and "wrong-token" not in caplog.text
    assert twilio_fake.AUTH_TOKEN not in repr(twilio(fake))


@pytest.mark.parametrize(
    ("code", "permanent"), [(21211, True), (21610, True), (20429, False), (20500, False)]
)
def test_twilio_errors_are_sorted_into_retry_and_give_up(fake, code, permanent) -> None:
    fake.script["+16175550142"] = [code]
    with pytest.raises(TransportError) as err:
        twilio(fake).send(outgoing())
    assert err.value.permanent is permanent
    assert str(code) in str(err.value)


def test_no_answer_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    transport = twilio_sms.from_env(ENV)
    transport.base_url = f"http://127.0.0.1:{port}"
    with pytest.raises(TransportError) as err:
        transport.send(outgoing())
    assert err.value.permanent is False and "no answer" in str(err.value)


def test_the_outbox_keeps_twilios_sid_retries_429_and_gives_up_on_21610(
    clinic: Clinic, fake, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    client = a_client(clinic)
    keys = queue_messages(clinic, client, 3)
    fake.script[client.phone] = [20429, 20500, 21610]  # twice retryable, then unsubscribed
    transport = twilio(fake)
    drain(Transports(transport, transport), random.Random(3), POLICY)
    statuses = sorted(row(k).status for k in keys)
    assert statuses == ["dead", "sent", "sent"]
    sent = [row(k) for k in keys if row(k).status == "sent"]
    assert {m.provider_message_id for m in sent} == {s["sid"] for s in fake.sent}
    dead = next(row(k) for k in keys if row(k).status == "dead")
    assert "21610" in dead.last_error and client.phone not in dead.last_error
    assert dead.attempts == 1  # unsubscribed: never tried again
    trail = " ".join(str(e.changes) for e in AuditEvent.select())
    assert twilio_fake.AUTH_TOKEN not in trail and twilio_fake.AUTH_TOKEN not in caplog.text


def test_a_clinics_settings_choose_its_sender_and_rate() -> None:
    checked = message_settings.parse(
        {"sms": {"provider": "twilio", "from": "+15550100999", "max_per_minute": 30}}, None
    )
    assert checked.sms == {
        "provider": "twilio",
        "from": "+15550100999",
        "auth_token_env": "TWILIO_AUTH_TOKEN",
        "max_per_minute": 30,
    }
    with pytest.raises(ValidationError) as err:
        message_settings.parse({"sms": {"auth_token": "secret"}}, None)
    assert err.value.field == "messages.sms.auth_token" and "secret" not in err.value.message
    with pytest.raises(ValidationError):
        message_settings.parse({"sms": {"account_sid": "ACnothex"}}, None)
    with pytest.raises(ValidationError):
        message_settings.parse({"sms": {"provider": "pigeon"}}, None)


def test_the_token_is_read_from_the_variable_the_clinic_names(fake) -> None:
    env = {**ENV, "TWILIO_AUTH_TOKEN": "", "CLINIC_A_TWILIO": twilio_fake.AUTH_TOKEN}
    transport = twilio(fake, env)
    assert transport.send(outgoing(sms={"auth_token_env": "CLINIC_A_TWILIO"})).startswith("SM")
    with pytest.raises(TransportError) as err:
        transport.send(outgoing())
    assert "$TWILIO_AUTH_TOKEN" in str(err.value)


def test_the_rate_limit_spaces_each_clinics_sends() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    rate = twilio_sms.RateLimit(sleep=sleep, monotonic=lambda: now[0])
    for _ in range(3):
        rate.wait("a", 60)
    rate.wait("b", 60)  # another clinic has its own budget
    assert slept == [1.0, 1.0]
    assert rate.wait("a", 0) == 0.0  # 0: no limit


def test_sms_through_twilio_is_a_transport_choice() -> None:
    chosen = transports.from_env({**ENV, "WAITLIST_SMS_TRANSPORT": "twilio"}, default_file=None)
    assert isinstance(chosen.sms, twilio_sms.TwilioTransport)
    with pytest.raises(ValidationError):
        transports.from_env({**ENV, "WAITLIST_SMS_TRANSPORT": "twilio", "WAITLIST_PUBLIC_URL": "x"})


def test_a_clinic_set_up_for_vonage_is_not_texted_through_twilio(fake) -> None:
    with pytest.raises(TransportError) as err:
        twilio(fake).send(outgoing(sms={"provider": "vonage", "api_key": "abcd1234"}))
    assert "vonage" in str(err.value) and err.value.permanent is False and not fake.sent

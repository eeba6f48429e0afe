"""Delivery against real servers on 127.0.0.1: a webhook gateway (http.server) and an SMTP server
(aiosmtpd, STARTTLS and login), with injected failures and timeouts. Every message goes once
by key, retries are spaced as configured, the hopeless ones end dead."""

from __future__ import annotations

import asyncio
import email
import json
import os
import random
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pendulum
import pytest

from tests.domain.outbox_helpers import Gateway, a_client, queue_messages, row, serve
from tests.timetravel import move_to
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import delivery, transports
from waitlist_tui.domain.messaging.outbox import list_messages
from waitlist_tui.domain.messaging.transports import (
    FileTransport,
    Transports,
    WebhookTransport,
    message_id,
)
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import AuditEvent, Client, Clinic, OutboxMessage

POLICY = delivery.RetryPolicy(max_attempts=4, base_seconds=30, cap_seconds=600, jitter=0.2)


@pytest.fixture
def gateway():
    gw = Gateway()
    server, url = serve(gw)
    yield gw, url
    server.shutdown()
    server.server_close()


def webhook(url: str, timeout: float = 0.3) -> Transports:
    hook = WebhookTransport(url, token="secret", timeout=timeout)
    return Transports(hook, hook)


def drain(chosen: Transports, rng: random.Random, policy=POLICY) -> list[delivery.Report]:
    """Deliver, then move the clock to the next retry, until nothing is left to try."""
    reports = []
    for _ in range(20):
        reports.append(delivery.deliver(chosen, batch=10, policy=policy, rng=rng))
        waiting = list(
            OutboxMessage.select().where(OutboxMessage.status.in_(["pending", "failed"]))
        )
        if not waiting:
            return reports
        move_to(max(m.next_attempt_at for m in waiting))
    raise AssertionError("delivery did not settle")


def test_webhook_delivers_each_message_once_by_key_through_failures_and_timeouts(
    clinic: Clinic, gateway
) -> None:
    gw, url = gateway
    keys = queue_messages(clinic, a_client(clinic), 8)
    gw.fail_first = {keys[0]: 2, keys[7]: 10}  # 503 twice; 503 for ever
    gw.slow_first = {keys[1]: 1}  # accepted, but answered after the client's timeout
    gw.reject = {keys[2]}  # 400: the gateway will never take it
    drain(webhook(url), random.Random(7))

    requests = Counter(gw.requests)
    assert requests[keys[0]] == 3 and requests[keys[1]] == 2 and requests[keys[2]] == 1
    assert requests[keys[7]] == POLICY.max_attempts
    assert all(requests[k] == 1 for k in keys[3:7])
    sent = [k for k in keys if k not in (keys[2], keys[7])]
    assert sorted(gw.accepted) == sorted(sent)  # the phone got each of them once
    for key in sent:
        message = row(key)
        assert message.status == "sent" and message.provider_message_id == gw.accepted[key]["id"]
        assert message.attempts == requests[key] and message.lease_until is None
    rejected, hopeless = row(keys[2]), row(keys[7])
    assert (rejected.status, rejected.attempts, rejected.last_error) == (
        "dead",
        1,
        "webhook HTTP 400",
    )
    assert (hopeless.status, hopeless.attempts) == ("dead", 4)
    assert hopeless.last_error == "webhook HTTP 503"


def test_retries_are_spaced_as_configured(clinic: Clinic, gateway) -> None:
    """Attempt k that fails waits 30 s * 2**(k-1), +-20 %; never sooner."""
    gw, url = gateway
    (key,) = queue_messages(clinic, a_client(clinic), 1)
    gw.fail_first = {key: 10}
    gaps = []
    for _attempt in range(POLICY.max_attempts):
        tried_at = pendulum.now("UTC")
        delivery.deliver(webhook(url), policy=POLICY, rng=random.Random(_attempt))
        message = row(key)
        if message.status == "dead":
            break
        gaps.append((message.next_attempt_at - tried_at).total_seconds())
        move_to(pendulum.instance(message.next_attempt_at).subtract(seconds=1))
        assert delivery.deliver(webhook(url), policy=POLICY).claimed == 0  # not yet
        move_to(pendulum.instance(message.next_attempt_at))
    assert len(gaps) == 3 and row(key).status == "dead" and len(gw.requests) == 4
    for k, gap in enumerate(gaps, start=1):
        plain = 30 * 2 ** (k - 1)
        assert plain * 0.8 <= gap <= plain * 1.2, (k, gap)
    assert len(set(gaps)) == 3  # jittered, not a fixed schedule


def test_backoff_is_capped_and_jitter_spreads() -> None:
    policy = delivery.RetryPolicy(max_attempts=20, base_seconds=60, cap_seconds=600, jitter=0.1)
    rng = random.Random(1)
    assert all(540 <= policy.delay(10, rng) <= 660 for _ in range(50))
    spread = {round(policy.delay(1, rng), 3) for _ in range(50)}
    assert len(spread) > 40 and min(spread) >= 54 and max(spread) <= 66


class Crash(BaseException):
    """The process dies (kill -9, power cut): no cleanup of its own runs."""


def crash_in_its_own_session(chosen: Transports, monkeypatch, where: str | None) -> None:
    """A delivery run on a connection of its own that dies at `where` (that function of
    delivery raising; None: the transport dies itself) and leaves like a killed process: no
    unlock, its session simply gone."""

    def crash(*args, **kw):
        raise Crash

    errors: list[BaseException] = []
    backend: list[int] = []

    def run() -> None:
        with database.connection_context():
            if is_postgres():
                backend.append(database.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
            try:
                delivery.deliver(chosen, policy=POLICY)
            except Crash:
                return
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            errors.append(AssertionError("the run did not crash"))

    with monkeypatch.context() as patch:
        if where:
            patch.setattr(delivery, where, crash)
        patch.setattr(delivery, "_let_go", lambda token: None)  # a killed run unlocks nothing
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=30)
    assert not errors, errors
    for _ in range(200):  # its server process ends a moment after the socket closes
        if (
            not backend
            or not database.execute_sql(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", backend
            ).fetchone()
        ):
            return
        time.sleep(0.01)
    raise AssertionError("the dead run's session did not end")


def test_a_crash_between_send_and_mark_is_counted_and_resent_with_the_same_key(
    clinic: Clinic, backend: str, gateway, monkeypatch
) -> None:
    """The attempt is written down before the send; the next run finds it cut off, counts
    it (attempts 2, interrupted 1, an audit row) and sends again with the same key. The dead
    run's claim is free at once on PostgreSQL (its session lock died with it), after a 30 s
    lease on SQLite."""
    gw, url = gateway
    (key,) = queue_messages(clinic, a_client(clinic), 1)
    crash_in_its_own_session(webhook(url), monkeypatch, "mark_sent")
    cut = row(key)
    assert gw.requests == [key]
    assert (cut.status, cut.attempts, cut.interrupted) == ("pending", 1, 0)
    assert cut.sending_since is not None and cut.lease_until is not None
    if backend == "sqlite":
        assert (cut.lease_until - pendulum.now("UTC")).total_seconds() <= 30
        move_to(pendulum.instance(cut.lease_until).subtract(seconds=1))
        assert delivery.deliver(webhook(url), policy=POLICY).claimed == 0  # the lease runs
        move_to(pendulum.instance(cut.lease_until).add(seconds=1))
    report = delivery.deliver(webhook(url), policy=POLICY)
    assert report.sent == 1 and gw.requests == [key, key]  # sent again, with the same key
    assert list(gw.accepted) == [key]  # and the gateway knew it: the phone got it once
    again = row(key)
    assert (again.status, again.attempts, again.interrupted) == ("sent", 2, 1)
    assert again.sending_since is None and again.claim_token is None
    assert again.provider_message_id == gw.accepted[key]["id"]
    (event,) = AuditEvent.select().where(AuditEvent.action == "message.interrupted")
    assert event.object_id == str(again.id) and event.changes["attempt"] == [None, 1]
    (view,) = list_messages()
    assert (view.attempts, view.interrupted, view.tries) == (2, 1, "2 (1 cut off)")
    assert view.to_dict()["interrupted"] == 1


def test_a_crash_before_the_send_is_counted_too(
    clinic: Clinic, backend: str, gateway, monkeypatch
) -> None:
    """Killed after the attempt was written and before the transport took it: the outbox
    cannot know whether it went, so it counts the attempt as cut off and sends it."""
    gw, url = gateway
    (key,) = queue_messages(clinic, a_client(clinic), 1)

    class Dies:
        name = "dies"
        timeout = 1.0

        def send(self, message) -> str:
            raise Crash

    crash_in_its_own_session(Transports(Dies(), Dies()), monkeypatch, None)
    cut = row(key)
    assert gw.requests == [] and (cut.attempts, cut.sending_since is not None) == (1, True)
    if backend == "sqlite":
        move_to(pendulum.instance(cut.lease_until).add(seconds=1))
    assert delivery.deliver(webhook(url), policy=POLICY).sent == 1
    assert gw.requests == [key]
    assert (row(key).attempts, row(key).interrupted, row(key).status) == (2, 1, "sent")


def test_a_live_run_keeps_its_claims_while_it_sends(clinic: Clinic, backend: str) -> None:
    """Sends that take longer than the lease in all: the run renews its lease before each
    send, so another desk claiming meanwhile takes nothing of it."""
    keys = queue_messages(clinic, a_client(clinic), 4)
    start = pendulum.now("UTC")
    stolen: list[int] = []

    class Slow:
        name = "slow"
        timeout = 5.0

        def send(self, message) -> str:
            move_to(pendulum.now("UTC").add(seconds=20))  # each send takes 20 s
            stolen.append(len(delivery.claim(10, str(uuid.uuid4()))))
            return f"slow:{message.key}"

    report = delivery.deliver_once(Transports(Slow(), Slow()), batch=10, policy=POLICY)
    assert report.sent == 4 and stolen == [0, 0, 0, 0]
    assert pendulum.now("UTC") - start >= pendulum.duration(seconds=80)  # > 2 leases of 30 s
    assert all(row(k).status == "sent" and row(k).attempts == 1 for k in keys)


def test_the_lease_outlasts_the_slowest_transport() -> None:
    quick = WebhookTransport("http://127.0.0.1:1/", timeout=5)
    slow = WebhookTransport("http://127.0.0.1:1/", timeout=25)
    assert delivery.lease_for(Transports(quick, quick)) == delivery.LEASE_SECONDS == 30
    assert delivery.lease_for(Transports(quick, slow)) == 75


def test_file_transport_appends_json_lines(clinic: Clinic, tmp_path: Path) -> None:
    client = a_client(clinic)
    keys = queue_messages(clinic, client, 3)
    path = tmp_path / "out" / "outbox.jsonl"
    file = FileTransport(path)
    report = delivery.deliver(Transports(file, file), batch=2, policy=POLICY)
    assert (report.claimed, report.sent) == (3, 3)  # two passes of a batch of 2
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(x["idempotency_key"] for x in lines) == keys
    first = next(x for x in lines if x["idempotency_key"] == keys[0])
    assert first["to"] == "+16175550142" and first["body"] == "Message 0"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert row(keys[0]).provider_message_id == f"file:{keys[0]}"


def test_delivery_waits_out_quiet_hours_and_drops_withdrawn_consent(
    clinic: Clinic, tmp_path: Path
) -> None:
    client = a_client(clinic)
    quiet_key, consent_key = queue_messages(clinic, client, 2)
    Client.update(consent_sms=False).where(Client.id == client.id).execute()
    OutboxMessage.update(channel="email", recipient=client.email).where(
        OutboxMessage.idempotency_key == quiet_key
    ).execute()
    file = FileTransport(tmp_path / "o.jsonl")
    move_to(pendulum.datetime(2026, 11, 20, 23, 0, tz="America/New_York"))
    report = delivery.deliver(Transports(file, file), policy=POLICY)
    assert (report.deferred, report.dead, report.sent) == (1, 1, 0)
    assert row(quiet_key).next_attempt_at == pendulum.datetime(
        2026, 11, 21, 8, tz="America/New_York"
    )
    assert row(quiet_key).attempts == 0 and row(quiet_key).status == "pending"
    assert (row(consent_key).status, row(consent_key).last_error) == (
        "dead",
        "no sms consent at send time (withdrawn or not given)",
    )
    move_to(pendulum.datetime(2026, 11, 21, 8, tz="America/New_York"))
    assert delivery.deliver(Transports(file, file), policy=POLICY).sent == 1


def test_transports_from_the_environment(tmp_path: Path) -> None:
    chosen = transports.from_env({}, default_file=tmp_path / "x.jsonl")
    assert chosen.sms.name == chosen.email.name == "file"
    env = {
        "WAITLIST_SMS_TRANSPORT": "webhook",
        "WAITLIST_WEBHOOK_URL": "https://gw.example/send",
        "WAITLIST_EMAIL_TRANSPORT": "smtp",
        "WAITLIST_SMTP_HOST": "mail.example",
        "WAITLIST_SMTP_PASSWORD": "pw",
    }
    chosen = transports.from_env(env)
    assert (chosen.sms.name, chosen.email.name) == ("webhook", "smtp")
    assert chosen.email.starttls and chosen.email.port == 587
    from waitlist_tui.domain.errors import ValidationError

    with pytest.raises(ValidationError, match="WAITLIST_SMTP_HOST"):
        transports.from_env({"WAITLIST_EMAIL_TRANSPORT": "smtp"})
    with pytest.raises(ValidationError, match="sms transport"):
        transports.from_env({"WAITLIST_SMS_TRANSPORT": "smtp"})


# --- SMTP -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class MailServer:
    """An aiosmtpd handler with injected failures: 451 (try later), a slow 250 (accepted after
    the client gave up waiting), 550 (no such user)."""

    def __init__(self) -> None:
        self.delivered: list[email.message.Message] = []
        self.fail_first: dict[str, int] = {}
        self.slow_first: dict[str, int] = {}
        self.reject: set[str] = set()
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        mail = email.message_from_bytes(envelope.content)
        key = mail["Idempotency-Key"]
        if not session.ssl:
            return "530 STARTTLS first"
        if key in self.reject:
            return f"550 5.1.1 <{envelope.rcpt_tos[0]}>: no such user"
        if self.fail_first.get(key, 0) > 0:
            self.fail_first[key] -= 1
            return "451 4.3.0 mailbox busy, try later"
        self.delivered.append(mail)
        if self.slow_first.get(key, 0) > 0:
            self.slow_first[key] -= 1
            await asyncio.sleep(1.0)
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path: Path):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = MailServer()

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"desk",
            b"s3cret",
        )
        if ok:
            handler.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    env = {
        "WAITLIST_EMAIL_TRANSPORT": "smtp",
        "WAITLIST_SMTP_HOST": "127.0.0.1",
        "WAITLIST_SMTP_PORT": str(port),
        "WAITLIST_SMTP_USER": "desk",
        "WAITLIST_SMTP_PASSWORD": "s3cret",
        "WAITLIST_SMTP_FROM": "desk@harbour.example",
        "WAITLIST_SMTP_CAFILE": str(cert),
        "WAITLIST_SMTP_TIMEOUT": "0.5",
    }
    yield handler, env
    controller.stop()


def test_smtp_delivers_each_message_once_by_key_through_failures_and_timeouts(
    clinic: Clinic, smtp_server, tmp_path: Path
) -> None:
    server, env = smtp_server
    chosen = transports.from_env(env, default_file=tmp_path / "sms.jsonl")
    keys = queue_messages(clinic, a_client(clinic), 6, channel="email")
    server.fail_first = {keys[0]: 2, keys[5]: 10}
    server.slow_first = {keys[1]: 1}
    server.reject = {keys[2]}
    drain(chosen, random.Random(3))

    by_key = Counter(m["Idempotency-Key"] for m in server.delivered)
    sent = [keys[0], keys[1], keys[3], keys[4]]
    assert set(by_key) == set(sent)
    for mail in server.delivered:  # the same key, the same Message-ID: a mailbox keeps one
        assert mail["Message-ID"] == message_id(mail["Idempotency-Key"])
        assert mail["From"] == "desk@harbour.example" and mail["To"] == "jane@example.com"
        assert mail["Subject"] == "Subject"
    assert by_key[keys[1]] == 2  # the slow one was taken, then sent again with the same id
    assert all(by_key[k] == 1 for k in (keys[0], keys[3], keys[4]))
    for key in sent:
        assert row(key).status == "sent" and row(key).provider_message_id == message_id(key)
    assert row(keys[0]).attempts == 3
    assert row(keys[1]).attempts == 2
    dead = row(keys[2])
    assert dead.status == "dead" and dead.attempts == 1
    assert "550" in dead.last_error and "jane@example.com" not in dead.last_error
    assert "j***@example.com" in dead.last_error  # the address masked in the stored error
    assert (row(keys[5]).status, row(keys[5]).attempts) == ("dead", 4)
    assert "451" in row(keys[5]).last_error
    assert server.logins and set(server.logins) == {"desk"}


def test_smtp_refuses_without_starttls_when_the_server_requires_it(
    clinic: Clinic, smtp_server, tmp_path: Path
) -> None:
    server, env = smtp_server
    chosen = transports.from_env(
        {**env, "WAITLIST_SMTP_STARTTLS": "0"}, default_file=tmp_path / "s.jsonl"
    )
    (key,) = queue_messages(clinic, a_client(clinic), 1, channel="email")
    delivery.deliver(chosen, policy=POLICY)
    assert row(key).status in ("failed", "dead") and not server.delivered


class SmtpsMailServer(MailServer):
    """aiosmtpd sets `session.ssl` only after STARTTLS: here the socket itself says TLS."""

    async def handle_DATA(self, server, session, envelope) -> str:
        if server.transport.get_extra_info("ssl_object") is not None:
            session.ssl = server.transport.get_extra_info("peercert") or {"tls": True}
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtps_server(tmp_path: Path):
    """SMTPS: TLS from the first byte (port 465's protocol), with a login."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = SmtpsMailServer()

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this socket is TLS
    )
    controller.start()
    env = {
        "WAITLIST_EMAIL_TRANSPORT": "smtp",
        "WAITLIST_SMTP_HOST": "127.0.0.1",
        "WAITLIST_SMTP_PORT": str(port),
        "WAITLIST_SMTP_TLS": "implicit",
        "WAITLIST_SMTP_USER": "desk",
        "WAITLIST_SMTP_PASSWORD": "s3cret",
        "WAITLIST_SMTP_FROM": "desk@harbour.example",
        "WAITLIST_SMTP_CAFILE": str(cert),
        "WAITLIST_SMTP_TIMEOUT": "2",
    }
    yield handler, env
    controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_implicit_tls_delivers(clinic: Clinic, smtps_server, tmp_path: Path) -> None:
    server, env = smtps_server
    chosen = transports.from_env(env, default_file=tmp_path / "s.jsonl")
    assert isinstance(chosen.email, transports.SmtpTransport) and chosen.email.implicit_tls
    (key,) = queue_messages(clinic, a_client(clinic), 1, channel="email")
    delivery.deliver(chosen, policy=POLICY)
    assert row(key).status == "sent"
    assert [m["Idempotency-Key"] for m in server.delivered] == [key]


def test_smtp_implicit_tls_is_chosen_by_port_465_or_said() -> None:
    base = {"WAITLIST_SMTP_HOST": "mail.example"}
    pick = transports._implicit_tls
    assert pick({**base, "WAITLIST_SMTP_PORT": "465"})
    assert not pick({**base, "WAITLIST_SMTP_PORT": "587"})
    assert not pick({**base, "WAITLIST_SMTP_PORT": "465", "WAITLIST_SMTP_TLS": "starttls"})
    with pytest.raises(ValidationError):
        pick({**base, "WAITLIST_SMTP_TLS": "maybe"})


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_client_cannot_talk_to_an_smtps_server(
    clinic: Clinic, smtps_server, tmp_path: Path
) -> None:
    server, env = smtps_server
    chosen = transports.from_env(
        {**env, "WAITLIST_SMTP_TLS": "starttls"}, default_file=tmp_path / "s.jsonl"
    )
    (key,) = queue_messages(clinic, a_client(clinic), 1, channel="email")
    delivery.deliver(chosen, policy=POLICY)
    assert row(key).status == "failed" and not server.delivered

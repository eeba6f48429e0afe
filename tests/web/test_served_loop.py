"""The whole loop against a real `waitlist-tui serve` process on a free 127.0.0.1 port, from a
fresh database: an opening offered to three clients, the offers texted through the Twilio
stand-in (tests/twilio_fake.py) each with its link; a YES signed with the twilio library's
own signing code books it; the delivery receipt is recorded; the other two are told the slot
is taken. Then the same by link: the page read (GET), the slot accepted (POST with its CSRF
pair), the other candidate told. Both backends.

The server runs on the real clock and this process on the test clock: the data is built
from this process's "now" (shifted or not by --clock-at), so that the server, earlier or the
same, finds every offer in time. The server process is stopped whatever happens."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from tests import twilio_fake
from tests.conftest import STAFF, _empty_all_tables, clinic_without_feeds, entry_payload
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.messaging import delivery, transports, twilio_sms
from waitlist_tui.domain.messaging.transports import Transports
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Appointment, AuditEvent, Offer, OutboxMessage
from waitlist_tui.domain.waitlist import adding

ROOT = Path(__file__).resolve().parents[2]
ZONE = "America/New_York"
ANN, BOB, CY = "+16175550101", "+16175550102", "+16175550103"
INBOUND, STATUS = "/sms/twilio/inbound", "/sms/twilio/status"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/o/[A-Za-z0-9_-]{22})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


@pytest.fixture
def served(db_url: str, backend: str, tmp_path: Path) -> Iterator[Served]:
    """A fresh database set up with a public URL, and `serve` running on it; stopped (and
    waited for, killed if it will not stop) at the end, whatever the test did."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    connect(db_url)
    if backend == "postgres":
        _empty_all_tables()
    data = clinic_without_feeds()
    data.setdefault("messages", {}).update(public_url=url, quiet_hours="")
    apply_setup(data, STAFF)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "TWILIO_ACCOUNT_SID": twilio_fake.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": twilio_fake.AUTH_TOKEN,
        "TWILIO_FROM": twilio_fake.FROM,
        "WAITLIST_PUBLIC_URL": url,
    }
    env.pop("WAITLIST_TEST_CLOCK_AT", None)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "waitlist_tui", "--db", db_url, "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((tmp_path / "serve.log").read_text()) from None
                time.sleep(0.2)
        yield Served(url, env, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        database.close()
    assert process.returncode is not None  # gone, not left behind


def _signed(url: str, form: dict[str, str]) -> dict:
    signature = RequestValidator(twilio_fake.AUTH_TOKEN).compute_signature(url, form)
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


def _monday_at(hour: int) -> str:
    """A Monday at least three days ahead, clinic time (KIM works Monday mornings)."""
    day = clock.today(ZONE) + dt.timedelta(days=3)
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    return f"{day.isoformat()}T{hour:02d}:00"


def _waiting(first: str, phone: str, priority: int) -> None:
    today = clock.today(ZONE)
    adding.create(
        entry_payload(
            client={"first_name": first, "last_name": "Lee", "phone": phone},
            preferred_providers=[],
            preferred_days=[],
            preferred_time_slots=[],
            date_range_start=today.isoformat(),
            date_range_end=(today + dt.timedelta(days=20)).isoformat(),
            priority=priority,
        ),
        STAFF,
    )


def _fake_transport(fake: twilio_fake.FakeTwilio, env: dict[str, str]) -> Transports:
    transport = transports.build("twilio", env, None, "sms")  # type: ignore[arg-type]
    assert isinstance(transport, twilio_sms.TwilioTransport)
    transport.base_url = fake.url
    transport.rate = twilio_sms.RateLimit(sleep=lambda s: None)
    return Transports(transport, transport)


def _bodies(fake: twilio_fake.FakeTwilio, since: int) -> dict[str, str]:
    return {m["To"]: m["Body"] for m in fake.sent[since:]}


async def test_the_whole_loop_by_text_and_by_link_against_a_served_desk(
    served: Served,
) -> None:
    fake = twilio_fake.FakeTwilio()
    provider = twilio_fake.start(fake)
    try:
        chosen = _fake_transport(fake, served.env)
        _waiting("Ann", ANN, 1)
        _waiting("Bob", BOB, 2)
        _waiting("Cy", CY, 3)
        opening = add_opening("KIM", _monday_at(10), 60, STAFF)
        first = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=3)
        assert len(first) == 3

        # 1. the offers go out through the fake Twilio, each with its own link
        assert delivery.deliver(chosen, rng=random.Random(1)).sent == 3
        texts = _bodies(fake, 0)
        assert set(texts) == {ANN, BOB, CY}
        links = {phone: LINK.search(body) for phone, body in texts.items()}
        assert all(links.values()) and len({m.group(1) for m in links.values() if m}) == 3
        ann_sid = next(m["sid"] for m in fake.sent if m["To"] == ANN)

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            # 2. Ann texts YES: Twilio signs it for the public URL; the server books it
            yes = {
                "MessageSid": "SM" + "a" * 32,
                "AccountSid": twilio_fake.ACCOUNT_SID,
                "From": ANN,
                "To": twilio_fake.FROM,
                "Body": "YES",
            }
            forged = await http.post(
                served.url + INBOUND, data=yes, headers={"X-Twilio-Signature": "x"}
            )
            assert forged.status == 403
            assert Offer.get_by_id(first[0].id).status == "sent"
            answer = await http.post(served.url + INBOUND, **_signed(served.url + INBOUND, yes))
            assert answer.status == 200 and "<Response>" in await answer.text()
            assert Offer.get_by_id(first[0].id).status == "accepted"
            assert Appointment.select().count() == 1

            # 3. the delivery receipt of Ann's offer text, as Twilio calls back
            callback = f"{STATUS}?clinic={opening.clinic.code}"
            receipt = {"MessageSid": ann_sid, "MessageStatus": "delivered"}
            got = await http.post(served.url + callback, **_signed(served.url + callback, receipt))
            assert got.status == 204
            row = OutboxMessage.get(OutboxMessage.provider_message_id == ann_sid)
            assert row.delivery_status == "delivered"

            # 4. the other two are told at once: their offers ended, "taken" texts queued
            assert {Offer.get_by_id(o.id).status for o in first[1:]} == {"rescinded"}
            before = len(fake.sent)
            delivery.deliver(chosen, rng=random.Random(2))
            told = _bodies(fake, before)
            assert set(told) == {ANN, BOB, CY}
            assert "you are booked" in told[ANN]
            assert all("already been filled" in told[p] for p in (BOB, CY))
            gone = await http.get(links[BOB].group(1))  # Bob's link died with his offer
            assert gone.status == 410

            # 5. the same by link: a second opening, offered to Bob and Cy
            second_opening = add_opening("KIM", _monday_at(11), 60, STAFF)
            second = offers.offer(second_opening.id, STAFF, workflow="BROADCAST", top=2)
            before = len(fake.sent)
            delivery.deliver(chosen, rng=random.Random(3))
            links = {p: LINK.search(b) for p, b in _bodies(fake, before).items()}
            bob_link = links[BOB].group(1)  # type: ignore[union-attr]
            rows = AuditEvent.select().count()
            page = await http.get(bob_link)
            html = await page.text()
            assert page.status == 200 and "Bob" in html and "Yes, book this slot" in html
            assert AuditEvent.select().count() == rows  # reading it did nothing
            csrf = re.search(r'name="csrf" value="([^"]+)"', html)
            assert csrf
            booked = await http.post(bob_link, data={"csrf": csrf.group(1), "action": "accept"})
            assert booked.status == 200 and "You are booked" in await booked.text()
            bob_offer = Offer.get_by_id(second[0].id)
            assert bob_offer.status == "accepted" and Appointment.select().count() == 2
            accepted = AuditEvent.get(
                AuditEvent.action == "offer.accept", AuditEvent.object_id == str(bob_offer.id)
            )
            assert accepted.actor == "link"
            assert Offer.get_by_id(second[1].id).status == "rescinded"
            again = await http.post(bob_link, data={"csrf": csrf.group(1), "action": "decline"})
            assert again.status == 410 and Offer.get_by_id(second[0].id).status == "accepted"
            before = len(fake.sent)
            delivery.deliver(chosen, rng=random.Random(4))
            told = _bodies(fake, before)
            assert "already been filled" in told[CY] and "you are booked" in told[BOB]
    finally:
        provider.shutdown()
        provider.server_close()

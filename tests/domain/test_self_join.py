"""A client's own request (domain/waitlist/self_join.py), without a server, on both backends:
pending until the phone's code is confirmed, invisible to the queue, matching and stats."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.timetravel import move_to
from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Unprocessable, ValidationError
from waitlist_tui.domain.messaging.replies import handle_reply
from waitlist_tui.domain.stats.report import stats
from waitlist_tui.domain.store.meta_tables import AuditEvent
from waitlist_tui.domain.store.models import Entry, JoinCode, OutboxMessage
from waitlist_tui.domain.waitlist import listing, reading, self_join

PHONE = "(617) 555-0177"


def form(**overrides: object) -> dict[str, object]:
    today = clock.today("America/New_York")
    values: dict[str, object] = {
        "service": "PT-EVAL",
        "date_range_start": (today + dt.timedelta(days=1)).isoformat(),
        "date_range_end": (today + dt.timedelta(days=20)).isoformat(),
        "preferred_days": ["MONDAY", "TUESDAY"],
        "preferred_time_slots": ["MORNING"],
        "first_name": "Rosa",
        "last_name": "Parks",
        "phone": PHONE,
        "email": "rosa@example.com",
        "consent_sms": "yes",
    }
    values.update(overrides)
    return values


def code_for(submitted: self_join.Submitted) -> str:
    message = OutboxMessage.get(OutboxMessage.ref_id == str(submitted.confirm_id))
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found and message.channel == "sms", message.body
    return found.group(1)


def test_a_request_is_pending_until_its_code_is_confirmed(clinic) -> None:
    submitted = self_join.submit(form(consent_sms=""))  # no SMS consent: the code still goes
    entry = Entry.get()
    assert (entry.status, entry.self_joined) == (vocab.PENDING, True)
    assert listing.list_entries(listing.EntryQuery()).total == 0  # not on the queue's view
    figures = stats().to_dict()
    assert "pending" not in figures["counts"] and figures["total"] == 0, figures
    code = code_for(submitted)
    assert code not in JoinCode.get().code_hash
    entry_id = self_join.confirm(submitted.confirm_id, code)
    view = reading.get(entry_id)
    assert view.status == vocab.WAITING and view.self_joined
    assert view.to_dict()["self_joined"] is True
    assert listing.list_entries(listing.EntryQuery()).total == 1
    assert AuditEvent.get(AuditEvent.action == "entry.confirm").actor == self_join.ACTOR
    with pytest.raises(Unprocessable):  # a code works once
        self_join.confirm(submitted.confirm_id, code)


def test_bad_fields_are_the_clis_4000s_and_nothing_is_written(clinic) -> None:
    with pytest.raises(ValidationError) as caught:
        self_join.submit(form(service="NOPE", phone="12", date_range_end="soon"))
    fields = {caught.value.field} | {
        e["field"] for e in (caught.value.data or {}).get("errors", [])
    }
    assert "client.phone" in fields or "date_range_end" in fields
    with pytest.raises(ValidationError) as caught:
        self_join.submit(form(phone=""))
    assert caught.value.field == "client.phone"
    with pytest.raises(ValidationError):
        self_join.submit(form(first_name="x" * 500))
    with pytest.raises(ValidationError):
        self_join.submit(form(extra="1"))
    assert Entry.select().count() == 0 and OutboxMessage.select().count() == 0


def test_wrong_codes_lock_after_five_tries(clinic) -> None:
    submitted = self_join.submit(form())
    code = code_for(submitted)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(self_join.MAX_TRIES - 1):
        with pytest.raises(ValidationError):
            self_join.confirm(submitted.confirm_id, wrong)
    with pytest.raises(Unprocessable):
        self_join.confirm(submitted.confirm_id, wrong)
    with pytest.raises(Unprocessable):  # locked: the right code too late
        self_join.confirm(submitted.confirm_id, code)
    assert Entry.get().status == vocab.PENDING


def test_a_code_expires_and_an_unconfirmed_request_is_purged(clinic, frozen) -> None:
    from waitlist_tui.domain.fill.expiry import expire

    submitted = self_join.submit(form())
    code = code_for(submitted)
    move_to(frozen + dt.timedelta(minutes=self_join.CODE_MINUTES + 1))
    with pytest.raises(Unprocessable):
        self_join.confirm(submitted.confirm_id, code)
    assert expire()["self_joined_unconfirmed_purged"] == 0
    move_to(frozen + dt.timedelta(hours=self_join.PURGE_HOURS, minutes=1))
    assert expire()["self_joined_unconfirmed_purged"] == 1
    assert Entry.select().count() == 0 and JoinCode.select().count() == 0
    assert OutboxMessage.select().where(OutboxMessage.status == "pending").count() == 0


def test_three_codes_per_phone_an_hour(clinic) -> None:
    for _ in range(self_join.CODES_PER_PHONE):
        self_join.submit(form())
    with pytest.raises(self_join.TooMany):
        self_join.submit(form())
    assert Entry.select().count() == self_join.CODES_PER_PHONE


def test_a_phone_that_texted_stop_gets_no_code(clinic) -> None:
    self_join.submit(form())  # the client exists; then they text STOP
    handle_reply(PHONE, "STOP")
    before = OutboxMessage.select().where(OutboxMessage.ref_type == "join_code").count()
    submitted = self_join.submit(form())
    assert not submitted.code_sent
    after = OutboxMessage.select().where(OutboxMessage.ref_type == "join_code").count()
    assert after == before


def test_the_desk_sees_the_mark(clinic) -> None:
    """The queue's detail pane and the entry's JSON (`entries show/list --json`) carry the
    self-joined mark."""
    import pendulum

    from waitlist_tui.tui.formatting import detail_text

    submitted = self_join.submit(form())
    entry_id = self_join.confirm(submitted.confirm_id, code_for(submitted))
    view = reading.get(entry_id)
    assert "self-joined online" in detail_text(view, pendulum.now("UTC")).plain
    assert "Joined online; code sent to" in view.notes
    assert view.to_dict()["self_joined"] is True
    listed = listing.list_entries(listing.EntryQuery())
    assert [v.to_dict()["self_joined"] for v in listed.items] == [True]
    assert listed.items[0].to_dict()["self_joined"] is True


def test_the_code_is_delivered_without_sms_consent(clinic, tmp_path) -> None:
    """The transport sends the code the client asked for, though they ticked no SMS consent."""
    import json

    from waitlist_tui.domain.messaging import delivery
    from waitlist_tui.domain.messaging.transports import FileTransport, Transports

    submitted = self_join.submit(form(consent_sms=""))
    file = FileTransport(tmp_path / "outbox.jsonl")
    report = delivery.deliver(Transports(file, file), batch=5)
    assert report.sent == 1
    sent = json.loads((tmp_path / "outbox.jsonl").read_text().splitlines()[0])
    assert sent["to"] == "+16175550177" and code_for(submitted) in sent["body"]


def test_a_pending_request_is_never_a_candidate(clinic) -> None:
    """Matching (the finder's and the offers' source) sees the entry only once confirmed."""
    from tests.domain.fill_helpers import monday_opening
    from waitlist_tui.domain.fill import matching

    submitted = self_join.submit(form(preferred_days=[], preferred_time_slots=[]))
    opening = monday_opening("09:00")
    assert [c.client_name for c in matching.candidates(opening).items] == []
    self_join.confirm(submitted.confirm_id, code_for(submitted))
    assert [c.client_name for c in matching.candidates(opening).items] == ["Rosa Parks"]


def test_erasing_the_client_drops_their_codes(clinic) -> None:
    from waitlist_tui.domain.privacy import erasure
    from waitlist_tui.domain.waitlist import changes

    submitted = self_join.submit(form())
    entry_id = self_join.confirm(submitted.confirm_id, code_for(submitted))
    changes.cancel(entry_id, "desk")
    erasure.erase_client(Entry.get_by_id(entry_id).client_id, "desk")
    assert JoinCode.select().count() == 0


def _existing(**overrides: object):
    """A client the desk entered: Rosa Parks, PHONE, rosa@example.com, no consent at all."""
    from waitlist_tui.domain.catalog.clients import ClientInput, find_or_create
    from waitlist_tui.domain.catalog.clinics import get_clinic

    values = {
        "first_name": "Rosa",
        "last_name": "Parks",
        "phone": "+16175550177",
        "email": "rosa@example.com",
        "consent_sms": False,
        "consent_email": False,
    }
    values.update(overrides)
    client, created = find_or_create(get_clinic(), ClientInput(**values), "desk")
    assert created
    return client


def test_name_and_email_alone_never_reach_an_existing_client(clinic) -> None:
    """Whoever knows a client's name and email types them with another phone: a new client
    is made; the existing one keeps their phone, email and consents, and gets no entry."""
    from waitlist_tui.domain.store.models import Client

    known = _existing(consent_sms=True, consent_email=True)
    submitted = self_join.submit(form(phone="(617) 555-0199", consent_sms="", consent_email=""))
    self_join.confirm(submitted.confirm_id, code_for(submitted))
    entry = Entry.get()
    assert entry.client_id != known.id
    again = Client.get_by_id(known.id)
    assert (again.phone, again.email, again.consent_sms, again.consent_email) == (
        "+16175550177",
        "rosa@example.com",
        True,
        True,
    )
    assert AuditEvent.select().where(AuditEvent.object_id == str(known.id)).count() == 1


def test_name_and_phone_attach_and_the_page_only_adds_consent_once_confirmed(clinic) -> None:
    """Same name and phone: the entry is the existing client's. A consent the page asks for
    is given only when the code proves the phone; an unticked one withdraws nothing; the
    email typed does not replace the one on file."""
    from waitlist_tui.domain.store.models import Client

    known = _existing(consent_email=True)
    submitted = self_join.submit(
        form(email="someone.else@example.com", consent_sms="yes", consent_email="")
    )
    assert Entry.get().client_id == known.id
    pending = Client.get_by_id(known.id)
    assert (pending.consent_sms, pending.consent_email) == (False, True)  # nothing yet
    self_join.confirm(submitted.confirm_id, code_for(submitted))
    after = Client.get_by_id(known.id)
    assert (after.consent_sms, after.consent_email) == (True, True)  # added, none withdrawn
    assert after.email == "rosa@example.com" and after.phone == "+16175550177"
    given = AuditEvent.get(AuditEvent.action == "client.consent")
    assert given.actor == self_join.ACTOR and given.changes["consent_sms"] == [False, True]


def test_a_stop_texted_after_the_code_went_is_not_undone_by_confirming(clinic) -> None:
    from waitlist_tui.domain.store.models import Client

    known = _existing()
    submitted = self_join.submit(form(consent_sms="yes"))
    handle_reply("+16175550177", "STOP")
    self_join.confirm(submitted.confirm_id, code_for(submitted))
    assert Client.get_by_id(known.id).consent_sms is False

"""A complete audit trail (issue 19): every domain write path writes its audit row in the
same transaction as its change. Each scenario below prepares a state, then runs one write
path twice: first with the audit table refusing every row (the path must fail and leave
every other table exactly as it was: the change and its audit row are one transaction),
then normally (it must change something and add audit rows).

The list is checked against the code: every domain module that opens a transaction
(`database.atomic(`) is named in WRITERS with the scenarios that run it, so a new write path
without a scenario fails here. Both backends."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STAFF, entry_payload
from tests.domain.calendar.shapes import NY_VTIMEZONE
from tests.domain.fill_helpers import add_entry, book_appointment, monday_opening
from tests.domain.link_helpers import deliver_to_file, token_in, with_public_url
from waitlist_tui.domain import clock
from waitlist_tui.domain.access import accounts
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.calendar import sync
from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.classes import schedule, seat_offers, seats
from waitlist_tui.domain.fill import (
    booking,
    contact_attempts,
    expiry,
    finder,
    offer_links,
    offers,
    openings,
)
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.messaging import delivery, receipts, replies
from waitlist_tui.domain.messaging.transports import FileTransport, Transports
from waitlist_tui.domain.privacy import erasure, retention
from waitlist_tui.domain.store import maintenance
from waitlist_tui.domain.store.models import (
    ALL_MODELS,
    Appointment,
    AuditEvent,
    Client,
    Clinic,
    Entry,
    OutboxMessage,
)
from waitlist_tui.domain.waitlist import adding, changes, exchange, self_join

ROOT = Path(__file__).resolve().parents[2] / "waitlist_tui" / "domain"

# Columns that coordinate work rather than record it: a delivery run's lease on the rows it
# claimed (the claim commits before any send, by design), and a calendar source's record of
# when it was last read and how that went (kept on a failed sync too, for the desk).
COORDINATION = {
    "outbox_message": {"lease_until", "claim_token", "updated_at"},
    "calendar_source": {"checked_at", "synced_at", "failed_at", "error", "tag", "modified"},
    # a /join code's try is counted (and committed) before the code is compared, by design
    "join_code": {"tries"},
}


class AuditDown(RuntimeError):
    pass


def fingerprint() -> dict[str, list[str]]:
    """Every row of every table but the audit trail's, as text, in a stable order."""
    seen: dict[str, list[str]] = {}
    for model in ALL_MODELS:
        if model is AuditEvent:
            continue
        table = model._meta.table_name
        skip = COORDINATION.get(table, set())
        fields = [f for f in model._meta.sorted_fields if f.column_name not in skip]
        seen[table] = sorted(repr(row) for row in model.select(*fields).tuples())
    return seen


def _audit_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AuditDown("the audit table refuses rows")

    monkeypatch.setattr(AuditEvent, "create", classmethod(refuse))
    monkeypatch.setattr(AuditEvent, "insert", classmethod(refuse))
    monkeypatch.setattr(AuditEvent, "insert_many", classmethod(refuse))
    # the bulk paths: audit.record_many's one executemany, and an import's COPY
    from waitlist_tui.domain.store import audit as audit_module
    from waitlist_tui.domain.waitlist import importing

    monkeypatch.setattr(audit_module, "insert_dicts", refuse)
    # audit.record's prepared insert on SQLite (store/prepared.py: its SQL built once)
    monkeypatch.setattr(audit_module._INSERT, "cursor", refuse)
    real_copy = importing.bulk_copy

    def copy_but_audit(table: str, *args: Any, **kwargs: Any) -> Any:
        if table == "audit_event":
            refuse()
        return real_copy(table, *args, **kwargs)

    monkeypatch.setattr(importing, "bulk_copy", copy_but_audit)


Act = Callable[[], object]


def _client() -> Client:
    return Client.get_by_id(add_entry("Cleo").client.id)


def s_add_entry(tmp: Path) -> Act:
    return lambda: adding.create(entry_payload(), STAFF)


def s_change_entry(tmp: Path) -> Act:
    entry = add_entry("Ed")
    return lambda: changes.update(entry.id, {"notes": "calls after 5"}, STAFF)


def s_cancel_entry(tmp: Path) -> Act:
    entry = add_entry("Ed")
    return lambda: changes.cancel(entry.id, STAFF, reason="moved away")


def s_consent(tmp: Path) -> Act:
    client = _client()
    return lambda: clients.update_consent(client.id, {"consent_sms": False}, STAFF)


def s_settings(tmp: Path) -> Act:
    data = demo_clinic()
    data.setdefault("messages", {})["quiet_hours"] = "20:00-09:00"
    return lambda: apply_setup(data, STAFF)


def s_import(tmp: Path) -> Act:
    path = tmp / "in.csv"
    path.write_text(
        "first_name,last_name,phone,email,service,preferred_providers,preferred_days,"
        "preferred_time_slots,date_range_start,date_range_end,payment_type,priority,notes\n"
        "Ivy,Imported,617-555-0777,ivy@example.com,PT-EVAL,KIM,MONDAY,MORNING,2026-11-23,"
        "2026-12-18,SELF_PAY,2,from the old list\n",
        encoding="utf-8",
    )
    return lambda: exchange.import_file(path, STAFF)


def s_add_opening(tmp: Path) -> Act:
    return lambda: monday_opening("10:00")


def s_offer(tmp: Path) -> Act:
    entry = add_entry("Olga")
    opening = monday_opening()
    return lambda: offers.offer(opening.id, STAFF, entry_id=entry.id)


def s_skip_candidate(tmp: Path) -> Act:
    from waitlist_tui.domain.fill import fairness

    entry = add_entry("Sam")
    opening = monday_opening()
    return lambda: fairness.skip_candidate(opening.id, entry.id, "asked for Fridays", STAFF)


def _offered() -> offers.OfferView:
    entry = add_entry("Olga")
    return offers.offer(monday_opening().id, STAFF, entry_id=entry.id)[0]


def s_accept(tmp: Path) -> Act:
    offer = _offered()
    return lambda: offers.accept(offer.id, STAFF)


def s_accept_knock_on(tmp: Path) -> Act:
    """An accept that releases the client's later appointment and offers it at once: the
    release, its opening and the automatic offer are the accept's transaction."""
    clinic = Clinic.get()
    Clinic.update(settings={**(clinic.settings or {}), "calendar": {"auto_offer": True}}).where(
        Clinic.id == clinic.id
    ).execute()
    offer = _offered()
    holder = Entry.get_by_id(offer.entry_id)
    later = booking.add_appointment(
        Clinic.get(), str(holder.client_id), "KIM", "PT-EVAL", "2026-11-30T10:00", STAFF
    )
    Appointment.update(entry=holder.id).where(Appointment.id == later.id).execute()
    add_entry("Next")
    return lambda: offers.accept(offer.id, STAFF)


def s_decline(tmp: Path) -> Act:
    offer = _offered()
    return lambda: offers.decline(offer.id, STAFF, note="busy")


def s_withdraw(tmp: Path) -> Act:
    offer = _offered()
    return lambda: offers.withdraw_opening(offer.opening_id, STAFF)


def s_expire_offers(tmp: Path) -> Act:
    _offered()
    later = clock.now() + dt.timedelta(days=3)
    return lambda: offers.expire_offers(later, STAFF)


def s_expire_entries(tmp: Path) -> Act:
    add_entry("Old")
    Entry.update(created_at=clock.now() - dt.timedelta(days=400)).execute()
    return lambda: expiry.expire(older_than_days=30, actor=STAFF)


def s_contact_attempt(tmp: Path) -> Act:
    offer = _offered()
    return lambda: contact_attempts.log_attempt(offer.id, contact_attempts.NO_ANSWER, STAFF)


def s_book(tmp: Path) -> Act:
    client = _client()
    clinic = Clinic.get()
    return lambda: booking.add_appointment(
        clinic, str(client.id), "KIM", "PT-FU", "2026-11-24 15:00", STAFF
    )


def s_cancel_appointment(tmp: Path) -> Act:
    appointment = book_appointment()
    return lambda: openings.cancel_appointment(appointment.id, STAFF)


def s_cancel_for_waitlist(tmp: Path) -> Act:
    appointment = book_appointment()
    return lambda: finder.cancel_for_waitlist(appointment.id, STAFF)


def s_offer_slot(tmp: Path) -> Act:
    entry = add_entry("Sam")
    opening = monday_opening("11:00")
    return lambda: offer_slot(opening.id, STAFF, entry_id=entry.id)


def _instance(capacity: int = 1) -> Any:
    return schedule.schedule("PILATES", "2026-11-25 18:00", capacity, STAFF)


def s_schedule_class(tmp: Path) -> Act:
    return lambda: _instance()


def s_enrol(tmp: Path) -> Act:
    inst, client = _instance(), _client()
    return lambda: seats.enrol(inst.id, client.id, STAFF)


def _held_seat() -> Any:
    """A one-seat class, its seat taken, a client waiting; the taker cancels: the seat is
    offered to the waiting client (in the clinic's offer mode)."""
    clinic = Clinic.get()
    Clinic.update(event_waitlist_mode="offer").where(Clinic.id == clinic.id).execute()
    inst = _instance()
    first = seats.enrol(inst.id, _client().id, STAFF)
    waiting = seats.join_waitlist(inst.id, Client.get_by_id(add_entry("Wes").client.id).id, STAFF)
    return first, waiting


def s_cancel_enrolment(tmp: Path) -> Act:
    first, _ = _held_seat()
    return lambda: seats.cancel_enrolment(first.id, STAFF)


def s_accept_seat(tmp: Path) -> Act:
    first, waiting = _held_seat()
    seats.cancel_enrolment(first.id, STAFF)
    return lambda: seat_offers.accept_seat(waiting.id, STAFF)


def s_deliver(tmp: Path) -> Act:
    _offered()  # queues the offer's text
    transport = FileTransport(tmp / "sent.jsonl")

    def act() -> object:
        # a run that died mid-pass leaves its claim until the lease runs out: run it out
        OutboxMessage.update(lease_until=None, claim_token=None).execute()
        return delivery.deliver_once(Transports(transport, transport), rng=random.Random(1))

    return act


def s_reply_note(tmp: Path) -> Act:
    client = _client()
    return lambda: replies.handle_reply(client.phone, "Can I come on Tuesday instead?")


def s_reply_yes(tmp: Path) -> Act:
    offer = _offered()
    phone = Client.get_by_id(Entry.get_by_id(offer.entry_id).client_id).phone
    return lambda: replies.handle_reply(phone, "YES")


def s_reply_stop(tmp: Path) -> Act:
    client = _client()
    return lambda: replies.handle_reply(client.phone, "STOP")


ICS = (
    "BEGIN:VCALENDAR\nVERSION:2.0\n" + NY_VTIMEZONE + "BEGIN:VEVENT\nUID:a-1@example.com\n"
    "DTSTART;TZID=America/New_York:20261124T100000\n"
    "DTEND;TZID=America/New_York:20261124T110000\nSUMMARY:Team meeting\nEND:VEVENT\n"
    "END:VCALENDAR\n"
)


def s_calendar_import(tmp: Path) -> Act:
    clinic = Clinic.get()
    return lambda: sync.import_file(clinic, "KIM", ICS.encode(), "kim.ics", STAFF)


def s_rebuild_stats(tmp: Path) -> Act:
    add_entry("Stan")
    return lambda: maintenance.rebuild_stats(STAFF)


def s_erase(tmp: Path) -> Act:
    entry = add_entry("Erin")
    changes.cancel(entry.id, STAFF)
    client = Client.get_by_id(entry.client.id)
    return lambda: erasure.erase_client(client.id, STAFF)


def s_purge(tmp: Path) -> Act:
    entry = add_entry("Pam")
    changes.cancel(entry.id, STAFF)
    Entry.update(status_changed_at=clock.now() - dt.timedelta(days=800)).execute()
    clinic = Clinic.get()
    Clinic.update(
        settings={**clinic.settings, "retention": {"purge_closed_after_months": 12}}
    ).execute()
    return lambda: retention.purge(STAFF, apply=True)


def _account(name: str = "ana") -> None:
    accounts.add_staff(name, "desk", "a long enough secret", STAFF)


def s_staff_add(tmp: Path) -> Act:
    return lambda: accounts.add_staff("ana", "desk", "a long enough secret", STAFF)


def s_staff_password(tmp: Path) -> Act:
    _account()
    return lambda: accounts.set_password("ana", "another long secret", STAFF)


def s_staff_disable(tmp: Path) -> Act:
    _account()
    return lambda: accounts.disable_staff("ana", STAFF)


def s_staff_login(tmp: Path) -> Act:
    _account()
    return lambda: accounts.authenticate("ana", "a long enough secret")


def s_staff_login_failed(tmp: Path) -> Act:
    _account()

    def act() -> None:
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate("ana", "not the secret")

    return act


def _join_form() -> dict[str, Any]:
    today = clock.today("America/New_York")
    return {
        "service": "PT-EVAL",
        "date_range_start": (today + dt.timedelta(days=1)).isoformat(),
        "date_range_end": (today + dt.timedelta(days=20)).isoformat(),
        "first_name": "Sol",
        "last_name": "Join",
        "phone": "(617) 555-0166",
    }


def _join_code(confirm_id: Any) -> str:
    import re

    body = OutboxMessage.get(OutboxMessage.ref_id == str(confirm_id)).body
    return re.search(r"\b(\d{6})\b", body).group(1)


def s_self_join(tmp: Path) -> Act:
    return lambda: self_join.submit(_join_form())


def s_self_join_confirm(tmp: Path) -> Act:
    submitted = self_join.submit(_join_form())
    code = _join_code(submitted.confirm_id)
    return lambda: self_join.confirm(submitted.confirm_id, code)


def s_self_join_purge(tmp: Path) -> Act:
    self_join.submit(_join_form())
    Entry.update(created_at=clock.now() - dt.timedelta(days=2)).execute()
    return lambda: self_join.purge(actor=STAFF)


def s_delivery_receipt(tmp: Path) -> Act:
    _offered()
    OutboxMessage.update(status="sent", provider_message_id="SM" + "e" * 32).execute()
    return lambda: receipts.record_status("SM" + "e" * 32, "delivered")


def s_vonage_receipt(tmp: Path) -> Act:
    from waitlist_tui.domain.messaging import sms_hooks

    _offered()
    OutboxMessage.update(status="sent", provider_message_id="0C00000009").execute()
    receipt = {"messageId": "0C00000009", "status": "expired", "err-code": "6"}
    return lambda: sms_hooks.vonage_status(receipt)


def s_locale(tmp: Path) -> Act:
    data = demo_clinic()
    data["clinic"]["locale"] = "fr_FR"
    return lambda: apply_setup(data, STAFF)


def _linked(tmp: Path) -> str:
    """An offer texted with its link (the clinic has a public URL); the link's token."""
    with_public_url()
    _offered()
    (sent,) = deliver_to_file(tmp / "linked.jsonl")
    return token_in(sent["body"])


def s_link_issue(tmp: Path) -> Act:
    offer = _offered()
    return lambda: offer_links.issue(offer.id, "delivery", clock.now())


def s_link_accept(tmp: Path) -> Act:
    token = _linked(tmp)
    return lambda: offer_links.act(token, "accept")


def s_link_decline(tmp: Path) -> Act:
    token = _linked(tmp)
    return lambda: offer_links.act(token, "decline")


def s_link_opt_out(tmp: Path) -> Act:
    token = _linked(tmp)
    return lambda: offer_links.act(token, "opt_out")


def s_tune(tmp: Path) -> Act:
    from waitlist_tui.domain.catalog.tuning import apply_tuning, parse_tuning

    tuning = parse_tuning(
        {"clinic": {"offer_hold_minutes": 30}, "messages": {"max_offers_per_day": 2}}
    )
    return lambda: apply_tuning(tuning, STAFF)


SCENARIOS: dict[str, Callable[[Path], Act]] = {
    name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("s_")
}

# Every domain module that opens a transaction, and the scenarios that run it. (Modules that
# write only inside their callers' transactions, such as classes/promotion and
# messaging/outbox, are run by their callers' scenarios: offer, cancel_enrolment, reply_stop.)
WRITERS: dict[str, tuple[str, ...]] = {
    "access/accounts.py": (
        "staff_add",
        "staff_password",
        "staff_disable",
        "staff_login",
        "staff_login_failed",
    ),
    "calendar/sync.py": ("calendar_import",),
    "catalog/clients.py": ("consent", "add_entry"),
    "catalog/setup.py": ("settings", "locale"),
    "catalog/tuning.py": ("tune",),
    "classes/schedule.py": ("schedule_class",),
    "classes/seat_offers.py": ("accept_seat",),
    "classes/seats.py": ("enrol", "cancel_enrolment"),
    "fill/booking.py": ("book",),
    "fill/contact_attempts.py": ("contact_attempt",),
    "fill/ending.py": ("withdraw", "expire_offers", "decline"),
    "fill/expiry.py": ("expire_entries",),
    "fill/fairness.py": ("skip_candidate", "offer"),
    "fill/finder.py": ("cancel_for_waitlist",),
    "fill/knock_on.py": ("accept_knock_on",),
    "fill/offer_links.py": ("link_issue", "link_accept", "link_decline", "link_opt_out"),
    "fill/offer_replies.py": ("accept", "accept_knock_on", "decline"),
    "fill/offer_time.py": ("deliver",),
    "fill/openings.py": ("add_opening", "cancel_appointment"),
    "fill/sending.py": ("offer",),
    "fill/slot_offers.py": ("offer_slot",),
    "messaging/delivery.py": ("deliver",),
    "messaging/receipts.py": ("delivery_receipt", "vonage_receipt"),
    "messaging/replies.py": ("reply_note", "reply_yes", "reply_stop"),
    "privacy/erasure.py": ("erase",),
    "privacy/retention.py": ("purge",),
    "waitlist/adding.py": ("add_entry", "import"),
    "waitlist/changes.py": ("change_entry", "cancel_entry"),
    "waitlist/importing.py": ("import",),
    "waitlist/self_join.py": ("self_join", "self_join_confirm", "self_join_purge"),
    "store/maintenance.py": ("rebuild_stats",),
}
# The store's other transactions are the schema's (migrations), the lock helper's and the
# rollups' own bookkeeping, and the stats report reads in one (a consistent snapshot): no
# domain change of their own.
# A stats rebuild over rollups the triggers kept right finds nothing to change (and says so).
MAY_CHANGE_NOTHING = {"rebuild_stats"}
# A backup copies and a restore replaces the whole database (its one audit row,
# database.restore, is tested in test_backups.py); the invariants are read in one snapshot.
# The served desk's login sessions and rate-limit counts coordinate the server (the login
# and logout themselves are audited by access/accounts.py).
INFRASTRUCTURE = {
    "access/sessions.py",
    "access/limits.py",
    "store/backups.py",
    "store/pg_indexes.py",
    "store/invariants.py",
    "stats/report.py",
    "store/locking.py",
    "store/rollups.py",
    "store/schema.py",
}


def test_every_module_that_opens_a_transaction_has_a_scenario() -> None:
    found = {
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "database.atomic(" in path.read_text(encoding="utf-8")
        or "db.atomic(" in path.read_text(encoding="utf-8")
    }
    assert found - INFRASTRUCTURE == set(WRITERS)
    named = {name for names in WRITERS.values() for name in names}
    assert named <= set(SCENARIOS), named - set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_change_and_its_audit_row_are_one_transaction(
    name: str, clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    act = SCENARIOS[name](tmp_path)
    before, rows_before = fingerprint(), AuditEvent.select().count()
    with monkeypatch.context() as patched:
        _audit_down(patched)
        with pytest.raises(AuditDown):
            act()
    assert AuditEvent.select().count() == rows_before
    after_failure = fingerprint()
    changed = {t for t in before if before[t] != after_failure[t]}
    assert not changed, f"{name}: a failed audit row left changes in {sorted(changed)}"

    act()
    assert AuditEvent.select().count() > rows_before, f"{name}: no audit row"
    if name not in MAY_CHANGE_NOTHING:
        assert fingerprint() != before, f"{name}: changed nothing"


def test_delivery_writes_each_attempt_and_outcome(clinic: Clinic, tmp_path: Path) -> None:
    _offered()
    transport = FileTransport(tmp_path / "sent.jsonl")
    delivery.deliver_once(Transports(transport, transport), rng=random.Random(1))
    message = OutboxMessage.get()
    actions = [
        a.action
        for a in AuditEvent.select()
        .where(AuditEvent.object_id == str(message.id))
        .order_by(AuditEvent.id)
    ]
    assert actions == ["message.queue", "message.attempt", "message.sent"]


def test_a_reply_kept_as_a_note_is_audited_without_its_text(clinic: Clinic) -> None:
    client = _client()
    result = replies.handle_reply(client.phone, "Tuesday suits me better, thanks")
    row = AuditEvent.get(AuditEvent.object_id == str(result.inbound_id))
    assert row.action == "reply.note"
    assert "Tuesday" not in str(row.changes)


def test_an_import_writes_one_summary_row_and_a_row_per_entry(
    clinic: Clinic, tmp_path: Path
) -> None:
    s_import(tmp_path)()
    summary = AuditEvent.get(AuditEvent.action == "entry.import")
    assert summary.changes["added"] == [None, 1]
    assert summary.changes["rows"] == [None, 1]
    entry = Entry.get()
    assert AuditEvent.select().where(AuditEvent.object_id == str(entry.id)).count() == 1


def test_a_settings_change_names_each_setting_old_and_new(clinic: Clinic) -> None:
    s_settings(Path("."))()
    row = (
        AuditEvent.select()
        .where(AuditEvent.action == "clinic.setup")
        .order_by(AuditEvent.id.desc())
        .get()
    )
    old, new = row.changes["settings.messages"]
    assert (old["quiet_hours"], new["quiet_hours"]) == (["21:00", "08:00"], ["20:00", "09:00"])
    assert "settings.consent" not in row.changes  # unchanged settings are not repeated

"""Erasure on request and the retention rule (issue 19): after `clients erase` or
`maintenance purge --apply`, no text column of any table (the audit trail's JSON included)
holds the erased values, the rows and the statistics are the same, and the erasure leaves
its own audit row without the data. Both backends."""

from __future__ import annotations

import random
from pathlib import Path

import pendulum
import pytest
from peewee import CharField, JSONField, TextField

from tests.conftest import STAFF, entry_payload
from tests.domain.fill_helpers import monday_opening
from tests.timetravel import move_to
from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.messaging import delivery, replies
from waitlist_tui.domain.messaging.transports import FileTransport, Transports
from waitlist_tui.domain.privacy import erasure, retention, trail
from waitlist_tui.domain.stats.report import stats
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    ALL_MODELS,
    AuditEvent,
    Client,
    Clinic,
    Entry,
    InboundMessage,
    OutboxMessage,
)
from waitlist_tui.domain.waitlist import adding, changes

# Values nobody else in the database holds, so that finding one anywhere is a leak.
FIRST, LAST = "Zephyrine", "Quillfeather"
PHONE, EMAIL = "(617) 555-0199", "zq.private@example.org"
E164 = "+16175550199"
NOTE = "Knee surgery in March, prefers the quiet room"
OFFER_NOTE = "left a message with her brother"
REPLY = "Could Tuesday work instead of Monday?"
SECRETS = (FIRST, LAST, E164, "6175550199", EMAIL, NOTE, OFFER_NOTE, REPLY)


def the_client_and_history(tmp_path: Path) -> Client:
    """A client with a booked entry (offer, accept, texts delivered), a cancelled one with
    notes and an offer note, a reply kept as a note, a consent change; and another client."""
    person = {"first_name": FIRST, "last_name": LAST, "phone": PHONE, "email": EMAIL}
    booked = adding.create(entry_payload(client=person, notes=NOTE), STAFF)
    offer = offers.offer(monday_opening().id, STAFF, entry_id=booked.id)[0]
    offers.accept(offer.id, STAFF)
    other = adding.create(entry_payload(client=person, notes=NOTE + " (second)"), STAFF)
    second = offers.offer(monday_opening("11:00").id, STAFF, entry_id=other.id)[0]
    offers.decline(second.id, STAFF, note=OFFER_NOTE)
    changes.cancel(other.id, STAFF, reason="moved away")
    replies.handle_reply(PHONE, REPLY)
    client = Client.get(Client.first_name == FIRST)
    clients.update_consent(client.id, {"consent_email": False}, STAFF)
    transport = FileTransport(tmp_path / "sent.jsonl")
    delivery.deliver_once(Transports(transport, transport), rng=random.Random(1))
    adding.create(entry_payload(notes="another person's note"), STAFF)  # Jane Doe stays
    return client


def leaks(secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Every (table.column, value) where a text column of any table holds a secret."""
    found = []
    for model in ALL_MODELS:
        for field in model._meta.sorted_fields:
            if not isinstance(field, CharField | TextField | JSONField):
                continue
            column = field.cast("TEXT") if isinstance(field, JSONField) else field
            for secret in secrets:
                escaped = secret.replace('"', "")
                hits = model.select().where(column.contains(escaped)).count()
                if hits:
                    found.append(f"{model._meta.table_name}.{field.column_name}: {secret}")
    return found


def figures() -> dict:
    return stats(source="raw").to_dict() | {"rollup": stats().to_dict()}


def row_counts() -> dict[str, int]:
    return {m._meta.table_name: m.select().count() for m in ALL_MODELS if m is not AuditEvent}


def test_the_history_holds_the_secrets_before(clinic: Clinic, tmp_path: Path) -> None:
    """The check below finds what it looks for (each value is somewhere before erasure)."""
    the_client_and_history(tmp_path)
    assert {leak.split(": ")[1] for leak in leaks()} == set(SECRETS)


def test_erase_leaves_no_personal_data_and_the_same_stats(clinic: Clinic, tmp_path: Path) -> None:
    client = the_client_and_history(tmp_path)
    before, counts = figures(), row_counts()
    trail_before = len(trail.list_events(client=client.id, limit=5000))

    done = erasure.erase_client(str(client.id)[:8], STAFF)

    assert leaks() == []
    assert figures() == before
    assert row_counts() == counts
    assert done["entries"] == 2 and done["messages"] >= 2 and done["replies"] == 1
    erased = Client.get_by_id(client.id)
    assert erasure.is_erased(erased)
    assert (erased.consent_sms, erased.consent_email) == (False, False)
    # the trail keeps every row (who did what, when), and says the client was erased
    rows = trail.list_events(client=client.id, limit=5000)
    assert len(rows) == trail_before + 1
    assert rows[0].action == "client.erased"
    assert set(rows[0].changes) == {"why", "entries", "messages", "replies", "audit_rows"}
    # the other client is untouched
    assert Client.get(Client.first_name == "Jane").email.lower() == "jane.doe@example.com"
    assert Entry.get(Entry.notes == "another person's note")
    # erasing again changes nothing more
    erasure.erase_client(client.id, STAFF)
    assert figures() == before


def test_erase_refuses_a_client_with_a_live_entry(clinic: Clinic) -> None:
    entry = adding.create(entry_payload(), STAFF)
    with pytest.raises(Conflict, match="cancel them first") as caught:
        erasure.erase_client(entry.client.id, STAFF)
    assert caught.value.code == 4090
    assert Client.get_by_id(entry.client.id).first_name == "Jane"


def test_a_pending_message_to_an_erased_client_is_ended(clinic: Clinic) -> None:
    entry = adding.create(entry_payload(), STAFF)
    offers.offer(monday_opening().id, STAFF, entry_id=entry.id)
    changes.cancel(entry.id, STAFF)
    erasure.erase_client(entry.client.id, STAFF)
    assert {m.status for m in OutboxMessage.select()} == {"dead"}
    assert {m.body for m in OutboxMessage.select()} == {""}


def _retention(months: int) -> None:
    clinic = Clinic.get()
    settings = {**clinic.settings, "retention": {"purge_closed_after_months": months}}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()


def test_purge_is_a_dry_run_by_default_and_keeps_the_stats(clinic: Clinic, tmp_path: Path) -> None:
    client = the_client_and_history(tmp_path)
    rowan = {"first_name": "Rowan", "last_name": "Keep", "phone": "617-555-0188"}
    old = adding.create(entry_payload(client=rowan, notes="old note about Rowan's back"), STAFF)
    changes.cancel(old.id, STAFF)
    move_to(pendulum.now("UTC").add(days=800))  # two years on: all of that is old
    today = pendulum.now("UTC").date()
    adding.create(  # Rowan is waiting again
        entry_payload(
            client=rowan,
            date_range_start=str(today.add(days=3)),
            date_range_end=str(today.add(days=20)),
        ),
        STAFF,
    )

    assert retention.purge(STAFF)["months"] == 0  # no rule: nothing to do
    _retention(12)
    before, counts = figures(), row_counts()
    audit_rows = AuditEvent.select().count()

    dry = retention.purge(STAFF)
    assert (dry["applied"], dry["clients_erased"], dry["entries_cleared"]) == (False, 1, 1)
    assert dry["client_ids"] == [str(client.id)]
    assert AuditEvent.select().count() == audit_rows  # a dry run writes nothing
    assert leaks() != []

    done = retention.purge(STAFF, apply=True)
    assert (done["applied"], done["clients_erased"], done["entries_cleared"]) == (True, 1, 1)
    assert leaks() == []
    assert leaks(("old note about Rowan",)) == []
    assert Client.get(Client.first_name == "Rowan").phone == "+16175550188"  # still waiting
    assert figures() == before
    assert row_counts() == counts
    assert AuditEvent.get(AuditEvent.action == "retention.purge").changes["clients_erased"] == [
        None,
        1,
    ]
    again = retention.purge(STAFF, apply=True)  # safe to run every night
    assert (again["applied"], again["clients_erased"], again["entries_cleared"]) == (False, 0, 0)


def test_a_failed_erasure_changes_nothing(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = the_client_and_history(tmp_path)
    found = leaks()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(erasure.audit, "record", boom)
    with pytest.raises(RuntimeError):
        erasure.erase_client(client.id, STAFF)
    assert leaks() == found
    assert database.is_closed() is False
    assert InboundMessage.get().text == REPLY


def test_erasure_leaves_another_clients_same_words_alone(clinic: Clinic) -> None:
    """A note two clients share is common words, not a person: only the erased client's
    rows lose it."""
    shared = "Prefers mornings, any provider"
    mine = adding.create(entry_payload(notes=shared), STAFF)
    other = adding.create(
        entry_payload(
            client={"first_name": "Olive", "last_name": "Other", "phone": "617-555-0123"},
            notes=shared,
        ),
        STAFF,
    )
    changes.cancel(mine.id, STAFF)
    erasure.erase_client(mine.client.id, STAFF)
    assert Entry.get_by_id(other.id).notes == shared
    created = AuditEvent.get(
        AuditEvent.object_id == str(other.id), AuditEvent.action == "entry.create"
    )
    assert created.changes["notes"] == [None, shared]
    assert Entry.get_by_id(mine.id).notes == ""

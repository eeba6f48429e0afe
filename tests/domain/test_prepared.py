"""Prepared queries (store/prepared.py) read and write exactly what the ordinary peewee
query does, on both backends: converted values, IN lists, row types, JSON."""

from __future__ import annotations

from tests.domain.fill_helpers import add_entry
from waitlist_tui.domain import vocab
from waitlist_tui.domain.store.models import AuditEvent, Clinic, Entry
from waitlist_tui.domain.store.prepared import Prepared, PreparedFamily, param

WAITING = Prepared(
    lambda: (
        Entry.select(Entry.id, Entry.priority, Entry.created_at)
        .where(Entry.status == param("status"), Entry.clinic == param("clinic"))
        .order_by(Entry.priority, Entry.id)
        .limit(param("limit"))
        .tuples()
    )
)
BY_IDS = PreparedFamily(lambda n: Entry.select().where(Entry.id.in_(param("ids", size=n))))


def test_rows_are_the_ordinary_querys(clinic: Clinic) -> None:
    for i in range(5):
        add_entry(f"P{i}", priority=1 + i % 3)
    ordinary = list(
        Entry.select(Entry.id, Entry.priority, Entry.created_at)
        .where(Entry.status == vocab.WAITING, Entry.clinic == clinic)
        .order_by(Entry.priority, Entry.id)
        .limit(4)
        .tuples()
    )
    assert list(WAITING.rows(status=vocab.WAITING, clinic=clinic.id, limit=4)) == ordinary
    assert list(WAITING.rows(status=vocab.WAITING, clinic=clinic, limit=2)) == ordinary[:2]
    ids = [row[0] for row in ordinary[:3]]
    models = list(BY_IDS(3).rows(ids=ids))
    assert sorted(e.id for e in models) == sorted(ids)
    assert all(isinstance(e, Entry) and e.status == vocab.WAITING for e in models)


def test_a_json_value_reads_back_as_written(db: object) -> None:
    insert = Prepared(
        lambda: AuditEvent.insert(
            **{
                name: param(name, AuditEvent._meta.fields[name])
                for name in ("at", "actor", "action", "object_type", "object_id", "changes")
            }
        )
    )
    from waitlist_tui.domain import clock

    changes = {"status": ["WAITING", "OFFERED"], "n": [None, 3]}
    insert.cursor(
        at=clock.now(),
        actor="tester",
        action="entry.x",
        object_type="entry",
        object_id="e1",
        changes=changes,
    )
    row = AuditEvent.get(AuditEvent.object_id == "e1")
    assert row.changes == changes and row.actor == "tester"

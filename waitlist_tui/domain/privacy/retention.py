"""The clinic's retention rule: a closed entry's personal data goes after N months.

    [retention]
    purge_closed_after_months = 24   # 0 (the default): kept until a client's erasure

`maintenance purge` (a dry run unless --apply; safe from cron: it only says what it would do,
and applying twice changes nothing the second time) finds the entries booked, cancelled or
expired longer ago than that. A client whose every entry is such an entry, with nothing
booked, held or enrolled since, is erased as on request (erasure.erase_in_transaction); the
other old entries only lose their notes (and their offers' notes). Rows, statuses and times
stay, so the statistics read the same. One transaction, with one audit row of counts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pendulum

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.privacy import erasure, trail
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Appointment, Client, Clinic, Enrolment, Entry, Offer

SETTING = "retention"
MONTHS = "purge_closed_after_months"


def months_of(clinic: Clinic) -> int:
    return int(((clinic.settings or {}).get(SETTING) or {}).get(MONTHS, 0) or 0)


def cutoff_of(clinic: Clinic, now: dt.datetime) -> dt.datetime | None:
    months = months_of(clinic)
    if months <= 0:
        return None
    return pendulum.instance(now).subtract(months=months)


def _plan(clinic: Clinic, cutoff: dt.datetime) -> tuple[list[Client], list[uuid.UUID]]:
    """(clients to erase, other old entries whose notes go)."""
    old = list(
        Entry.select(Entry.id, Entry.client, Entry.notes).where(
            Entry.clinic == clinic.id,
            Entry.status.in_(vocab.CLOSED_STATUSES),
            Entry.status_changed_at < cutoff,
        )
    )
    client_ids = sorted({e.client_id for e in old})
    recent: set[uuid.UUID] = set()
    for start in range(0, len(client_ids), 500):
        part = client_ids[start : start + 500]
        recent.update(
            e.client_id
            for e in Entry.select(Entry.client).where(
                Entry.client.in_(part),
                Entry.status.not_in(vocab.CLOSED_STATUSES) | (Entry.status_changed_at >= cutoff),
            )
        )
        recent.update(
            a.client_id
            for a in Appointment.select(Appointment.client).where(
                Appointment.client.in_(part), Appointment.starts_at >= cutoff
            )
            if a.client_id is not None
        )
        recent.update(
            s.client_id
            for s in Enrolment.select(Enrolment.client).where(
                Enrolment.client.in_(part), Enrolment.updated_at >= cutoff
            )
        )
    gone = [c for c in client_ids if c not in recent]
    clients = [
        c
        for start in range(0, len(gone), 500)
        for c in Client.select().where(Client.id.in_(gone[start : start + 500]))
        if not erasure.is_erased(c)
    ]
    kept = [e.id for e in old if e.client_id in recent]
    with_text: set[uuid.UUID] = set()
    for start in range(0, len(kept), 500):
        part = kept[start : start + 500]
        with_text.update(
            e.id for e in Entry.select(Entry.id).where(Entry.id.in_(part), Entry.notes != "")
        )
        with_text.update(
            o.entry_id
            for o in Offer.select(Offer.entry).where(Offer.entry.in_(part), Offer.note != "")
        )
    return clients, sorted(with_text)


def purge(actor: str, apply: bool = False, clinic_code: str | None = None) -> dict[str, Any]:
    """What the rule purges now: with `apply`, purge it (one transaction, one audit row)."""
    clinic = get_clinic(clinic_code)
    now = clock.now()
    cutoff = cutoff_of(clinic, now)
    report: dict[str, Any] = {
        "clinic": clinic.code,
        "months": months_of(clinic),
        "cutoff": cutoff.isoformat() if cutoff else None,
        "applied": False,
        "clients_erased": 0,
        "entries_cleared": 0,
        "client_ids": [],
    }
    if cutoff is None:
        return report
    with database.atomic():
        clients, entries = _plan(clinic, cutoff)
        report.update(
            clients_erased=len(clients),
            entries_cleared=len(entries),
            client_ids=[str(c.id) for c in clients],
        )
        if not apply or not (clients or entries):
            return report
        for client in clients:
            erasure.erase_in_transaction(
                client, actor, f"retention: closed over {report['months']} months", False
            )
        texts = erasure.erase_entries_text(entries)
        rewritten = erasure.scrub_audit(trail.objects_of_entries(entries), texts)
        audit.record(
            actor,
            "retention.purge",
            "clinic",
            clinic.id,
            {
                "months": [None, report["months"]],
                "cutoff": [None, report["cutoff"]],
                "clients_erased": [None, len(clients)],
                "entries_cleared": [None, len(entries)],
                "audit_rows": [None, rewritten],
            },
        )
        report["applied"] = True
    return report

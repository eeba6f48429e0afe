"""Erasing a client's personal data on request (GDPR art. 17), keeping the rows.

What goes: the client's name, phone, email and search text; the notes of their entries
and of the offers made to them; the recipient, subject, body and error text of every
message to them, and the sender and text of every reply from their phone; and, in the audit
trail, every value of those fields and every text that holds one of the erased values.
What stays: the rows themselves with their ids, statuses, times, services, providers and
flags, so the statistics and the audit trail (who did what, when) read the same as before.
A pending message to them is ended (dead, "client erased"): there is nobody to send it to.
The erasure writes its own audit row, which holds counts only.

A client with a live entry (waiting or offered) is refused: cancel the entry first."""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Iterable
from functools import reduce
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.privacy import trail
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    AuditEvent,
    Client,
    Entry,
    InboundMessage,
    JoinCode,
    Offer,
    OutboxMessage,
)

ERASED = "[erased]"
# Fields of audit rows that hold what a person typed or who they are: always blanked on
# the rows of an erased client's objects.
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "client_name",
        "phone",
        "email",
        "search",
        "notes",
        "note",
        "reason",
        "recipient",
        "subject",
        "body",
        "text",
        "sender",
        "last_error",
    }
)
# A value searched for across the whole trail must be this long: a short first name would
# match words of other people's rows.
MIN_SEARCHED = 7


def is_erased(client: Client) -> bool:
    return bool(client.first_name == ERASED and not client.phone and not client.email)


def _scrub(value: Any, needles: list[str], key: str | None = None, keys: bool = True) -> Any:
    """`value` with every text holding a needle erased, and (with `keys`) every personal
    field blanked."""
    if isinstance(value, dict):
        return {k: _scrub(v, needles, k, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles, key, keys) for v in value]
    if isinstance(value, str):
        if keys and key in PERSONAL_KEYS and value:
            return ERASED
        low = value.lower()
        if any(n in low for n in needles):
            return ERASED
    return value


def _needles(values: Iterable[str | None]) -> list[str]:
    found = set()
    for value in values:
        if value and value.strip():
            found.add(value.strip().lower())
            digits = "".join(ch for ch in value if ch.isdigit())
            if len(digits) >= 7 and value.lstrip().startswith("+"):
                found.add(digits)  # the phone as the search text holds it
                found.add(digits[-10:])
    return sorted(found, key=len, reverse=True)


def scrub_audit(
    objects: trail.Objects, values: Iterable[str | None], anywhere: Iterable[str | None] = ()
) -> int:
    """Erase personal data from the audit rows of `objects` (their personal fields, and any
    text holding one of `values` or `anywhere`), and from any other row the text that holds
    one of `anywhere`: values that name this person alone (a phone, an email, a full name),
    never a note or a lone first name another person's rows may hold too. Caller's
    transaction. Returns the number of rows rewritten. (`anywhere` costs one scan of the
    audit table.)"""
    needles = _needles([*values, *anywhere])
    own: dict[int, AuditEvent] = {row.id: row for row in trail.rows_of(objects)}
    others: dict[int, AuditEvent] = {}
    searched = [n for n in _needles(anywhere) if len(n) >= MIN_SEARCHED]
    if searched:
        as_text = AuditEvent.changes.cast("TEXT")
        hits = []
        for needle in searched:
            hits.append(as_text.contains(needle))
            escaped = json.dumps(needle)[1:-1]  # as SQLite keeps a non-ASCII letter: \u00e9
            if escaped != needle:
                hits.append(as_text.contains(escaped))
        query = AuditEvent.select().where(reduce(operator.or_, hits))
        others = {row.id: row for row in query if row.id not in own}
    rewritten = 0
    for rows, scrub_needles, keys in ((own, needles, True), (others, searched, False)):
        for row in rows.values():
            clean = _scrub(row.changes or {}, scrub_needles, keys=keys)
            if clean != row.changes:
                AuditEvent.update(changes=clean).where(AuditEvent.id == row.id).execute()
                rewritten += 1
    return rewritten


def erase_entries_text(entry_ids: list[uuid.UUID]) -> list[str]:
    """Blank the notes of these entries and of their offers; returns the texts blanked.
    Caller's transaction; the rows' statuses and times stay (the stats read them)."""
    texts: list[str] = []
    if not entry_ids:
        return texts
    for start in range(0, len(entry_ids), 500):
        part = entry_ids[start : start + 500]
        texts += [e.notes for e in Entry.select(Entry.notes).where(Entry.id.in_(part)) if e.notes]
        texts += [o.note for o in Offer.select(Offer.note).where(Offer.entry.in_(part)) if o.note]
        Entry.update(notes="", version=Entry.version + 1).where(
            Entry.id.in_(part), Entry.notes != ""
        ).execute()
        Offer.update(note="").where(Offer.entry.in_(part), Offer.note != "").execute()
        JoinCode.delete().where(JoinCode.entry.in_(part)).execute()  # the /join codes' phones
    return texts


def erase_in_transaction(
    client: Client, actor: str, why: str, search_anywhere: bool = True
) -> dict[str, int]:
    """Erase `client` inside the caller's transaction (erase_client, retention.purge). With
    `search_anywhere` (erasure on request) every audit row is searched for their phone,
    email and full name too, beyond the rows of what is theirs; the nightly
    purge, erasing many clients at once, keeps to the rows of what is theirs."""
    now = clock.now()
    objects = trail.client_objects(client.id)
    entry_ids = [e.id for e in Entry.select(Entry.id).where(Entry.client == client.id)]
    full_name = f"{client.first_name} {client.last_name}"
    values: list[str | None] = [client.first_name, client.last_name]
    anywhere: list[str | None] = [full_name, client.phone, client.email]
    texts = erase_entries_text(entry_ids)
    values += texts
    messages = OutboxMessage.select().where(OutboxMessage.client == client.id)
    values += [m.body for m in messages] + [m.subject for m in messages]
    values += [m.recipient for m in messages]
    replies = InboundMessage.select().where(
        (InboundMessage.client == client.id)
        | ((InboundMessage.sender == client.phone) & (InboundMessage.clinic == client.clinic_id))
        if client.phone
        else (InboundMessage.client == client.id)
    )
    reply_ids = [r.id for r in replies]
    values += [r.text for r in replies] + [r.sender for r in replies]
    objects.setdefault("inbound", set()).update(str(i) for i in reply_ids)
    OutboxMessage.update(
        status="dead",
        last_error="client erased",
        lease_until=None,
        claim_token=None,
    ).where(
        OutboxMessage.client == client.id, OutboxMessage.status.in_(["pending", "failed"])
    ).execute()
    sent = (
        OutboxMessage.update(recipient="", subject="", body="", last_error="")
        .where(OutboxMessage.client == client.id)
        .execute()
    )
    answered = (
        InboundMessage.update(sender="", text="").where(InboundMessage.id.in_(reply_ids)).execute()
        if reply_ids
        else 0
    )
    Client.update_by(
        actor,
        now,
        first_name=ERASED,
        last_name="",
        phone=None,
        email=None,
        search="",
        consent_sms=False,
        consent_email=False,
        version=Client.version + 1,
    ).where(Client.id == client.id).execute()
    if not search_anywhere:
        values, anywhere = [*values, *anywhere], []
    rewritten = scrub_audit(objects, values, anywhere)
    counts = {
        "entries": len(entry_ids),
        "messages": int(sent),
        "replies": int(answered),
        "audit_rows": rewritten,
    }
    audit.record(
        actor,
        "client.erased",
        "client",
        client.id,
        {"why": [None, why], **{k: [None, v] for k, v in counts.items()}},
    )
    return counts


def preview(client_ref: ids.IdRef) -> dict[str, Any]:
    """Who `clients erase` would erase (for its question), and whether it would be refused."""
    client = ids.resolve(Client, client_ref, "client", field="id")
    entries = Entry.select(Entry.status).where(Entry.client == client.id)
    return {
        "client": str(client.id),
        "name": f"{client.first_name} {client.last_name}".strip(),
        "entries": entries.count(),
        "live": sum(1 for e in entries if e.status in vocab.ACTIVE_STATUSES),
        "erased": is_erased(client),
    }


def erase_client(client_ref: ids.IdRef, actor: str) -> dict[str, Any]:
    """`clients erase ID`: erase one client's personal data, in one transaction. Conflict
    (4090) while they have a live entry; erasing an erased client again changes nothing."""
    with database.atomic():
        client = ids.resolve(Client, client_ref, "client", field="id")
        live = [
            str(e.id)
            for e in Entry.select(Entry.id).where(
                Entry.client == client.id, Entry.status.in_(vocab.ACTIVE_STATUSES)
            )
        ]
        if live:
            raise Conflict(
                f"the client has {len(live)} live entr{'y' if len(live) == 1 else 'ies'}: "
                "cancel them first (`entries cancel ID`), then erase",
                field="id",
                data={"entries": live},
            )
        counts = erase_in_transaction(client, actor, "on request")
    return {"client": str(client.id), **counts}

"""The import at bulk speed, still all or nothing (issue 18): exchange.import_file's engine.

Two passes over the file, neither holding it in memory (a CSV is read as a stream; a JSON
file is one document and is parsed whole):

1. Check. Every row is read, checked and resolved as `adding.prepare` checks one entry (the
   same rules, the same messages), with what the rows name looked up a batch at a time: the
   entries and clients their ids name, the service and provider codes once per import. A
   row that passes is written, checked and resolved, to a scratch file (0600, unlinked at
   once: nothing is left behind by a kill); a row that fails is reported with its number.
   Every error of the file comes back at once, and unless skip_invalid nothing is written.
2. Write. In one transaction, a batch at a time from the scratch file: the batch's clients
   found by name and phone or email (in the database, which then also holds the clients the
   earlier batches added, and within the batch) or added in one statement; its entries,
   their providers and their audit rows each in one statement; the stats rollups of the
   batch's entries added by one grouped statement in place of a trigger per row (the
   trigger is off for this transaction only, on both backends; on SQLite so is the booked
   entries' trigger while a batch holds none: see rollups.bulk_entry_counts). Rows of
   entries already here (by id) are skipped, or with on_existing="update" changed one by
   one as `changes.change` does (a savepoint each). A failure rolls the whole import back.

The queries are a fixed number per batch, plus the updates' own: tests/domain/
test_import_queries.py pins them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import pickle
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, NamedTuple

from peewee import DatabaseError, DataError, IntegrityError

from waitlist_tui.domain import clock, jsoninput, vocab
from waitlist_tui.domain.catalog.clients import (
    CLIENT_FIELDS,
    ClientInput,
    consents_for_new,
    parse_client,
    parse_phones,
    remember_phones,
    set_consent,
)
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError, Unprocessable, ValidationError
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.store import audit, demand_columns, rollups, sqlite_search
from waitlist_tui.domain.store.bulk_columns import AUDIT_COLUMNS, CLIENT_COLUMNS, ENTRY_COLUMNS
from waitlist_tui.domain.store.db import bulk_copy, database, is_postgres
from waitlist_tui.domain.store.deferred_indexes import deferred_indexes
from waitlist_tui.domain.store.models import Client, Clinic, Entry, Provider, Service
from waitlist_tui.domain.textinput import search_text, text_value
from waitlist_tui.domain.waitlist import adding, updating
from waitlist_tui.domain.waitlist.entry_input import ALIASES, MAX_NOTES
from waitlist_tui.domain.waitlist.refs import resolve_providers, resolve_service

BATCH = 2000
PARALLEL_ROWS = 20_000  # from this many rows the phones are parsed in worker processes
CSV_ROW_BYTES = 100  # a CSV row's usual size, to guess a file's rows from its bytes
MAX_WORKERS = 3
WRITE_CACHE_KIB = 262_144  # 256 MiB, as the demo's bulk load (db.bulk_load_mode)
READ_CHUNK = 1 << 20
# Tables whose secondary indexes are built once after the write when the import adds more
# rows than they hold (store/deferred_indexes.py); the clients' stay, as the write looks
# people up by phone and email through them.
DEFERRED_INDEXES = ("entry", "entry_provider", "audit_event")
DEFER_INDEXES_FROM = 20_000  # rows: below, two dozen DDL statements cost more than they save
# (phase: "check" | "write", done, total): done and total in bytes while checking a CSV
# file, in rows otherwise.
Progress = Callable[[str, int, int], None]


@lru_cache(maxsize=4096)
def stamp(value: dt.datetime | None) -> str | None:
    """A time as the database stores it: naive UTC text, as sqlite3 writes a datetime (and
    PostgreSQL reads a timestamp). Remembered: most rows share their stamps (now)."""
    if value is None:
        return None
    offset = value.utcoffset()
    naive = dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond,
    )  # fmt: skip
    return (naive - offset if offset else naive).isoformat(" ")


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def as_json(value: Any) -> str:
    """An audit row's changes as SQLite's json() stores them (peewee's JSONField wraps its
    parameter in json(): compact, the text as it is). One encoder for every row: json.dumps
    with arguments builds a new one each call."""
    return _JSON.encode(value)


_PIECES: dict[tuple[str, type, Any], str] = {}
PIECES_KEPT = 10_000


def entry_audit_json(values: dict[str, Any], providers: list[Provider]) -> str:
    """as_json(adding.audit_changes({**values, "client": None}, providers, None)) (the
    client left out: it is added once known), put
    together from each field's `"key":[null,value]` text, remembered per (field, value): a
    file repeats its services, days, dates and payment types, and encoding the whole dict
    row after row was a tenth of a row's check. The notes (text of the row's own) are
    encoded each time. tests/domain/test_import_audit_json.py holds the two together."""
    pieces = []
    for key, value in values.items():
        if key == "clinic":
            continue
        kind = type(value)
        if kind is str and key == "notes":
            pieces.append(f'"notes":[null,{_JSON.encode(value)}]')
            continue
        try:
            piece = _PIECES.get((key, kind, value))
        except TypeError:  # a list: as audit_changes writes it
            piece = _piece(key, value)
        else:
            if piece is None:
                if len(_PIECES) >= PIECES_KEPT:
                    _PIECES.clear()
                piece = _PIECES[(key, kind, value)] = _piece(key, value)
        if piece:
            pieces.append(piece)
    pieces.append(f'"preferred_providers":[null,{_JSON.encode([p.code for p in providers])}]')
    return "{" + ",".join(pieces) + "}"


def _piece(key: str, value: Any) -> str:
    """One field of audit_changes as JSON text ("" when it leaves the field out)."""
    one = adding.audit_changes({key: value}, [], None)
    one.pop("preferred_providers")
    if key not in one:
        return ""
    return as_json(one)[1:-1]


def uid(value: uuid.UUID) -> str:
    return value.hex


def dashed(hex_id: str) -> str:
    """str(uuid.UUID(hex_id)) for an id as uid() stores it (32 lower-case hex digits),
    without building the UUID: a few of these a row."""
    h = hex_id
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- reading the file as a stream -------------------------------------------------------------


def check_utf8(path: Path, raw: IO[bytes]) -> None:
    """The whole file decodes as UTF-8, or a 4000 names the first bad byte and its line (as
    jsoninput.decode_utf8 does for a file read whole), reading a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset, lines = 0, 1
    while True:
        chunk = raw.read(READ_CHUNK)
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            bad = max(exc.start - (len(decoder.getstate()[0]) if chunk else 0), 0)
            bad = min(bad, len(chunk) - 1) if chunk else 0
            at = offset + bad
            line = lines + chunk[:bad].count(b"\n")
            byte = chunk[bad] if chunk else 0
            raise ValidationError(
                f"{path} is not UTF-8 text: byte {at} (line {line}) is 0x{byte:02x}; save it "
                "as UTF-8 and try again",
                field="file",
                data={"offset": at, "line": line},
            ) from None
        if not chunk:
            return
        offset += len(chunk)
        lines += chunk.count(b"\n")


@dataclass
class Source:
    """A file's rows, read again as often as asked: (row number, "csv" | "json", raw row)."""

    path: Path
    kind: str
    size: int
    items: list[Any] | None = None  # a JSON file's items (parsed whole)
    position: Callable[[], int] = lambda: 0  # bytes read so far (CSV), for the progress bar

    def rows(self) -> Iterator[tuple[int, str, Any]]:
        if self.items is not None:
            for i, item in enumerate(self.items, start=1):
                yield i, "json", item
            return
        from waitlist_tui.domain.waitlist.exchange import check_header

        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            self.position = raw.tell
            reader = csv.DictReader(text)
            try:
                header = reader.fieldnames
            except csv.Error as exc:
                raise ValidationError(
                    f"{self.path}: row 1 (the header) cannot be read: {exc}", field="file"
                ) from None
            check_header(self.path, header)
            number = 1
            try:
                for number, row in enumerate(reader, start=2):
                    yield number, "csv", row
            except csv.Error as exc:  # a cell over 128 KiB, a stray quote at the end
                raise ValidationError(
                    f"{self.path}: row {number + 1} cannot be read: {exc}",
                    field="file",
                    data={"errors": [{"row": number + 1, "field": "file", "message": str(exc)}]},
                ) from None


def open_source(path: str | Path) -> Source:
    """The file, checked to be readable UTF-8; JSON (by its suffix or its first character)
    parsed whole, CSV left to be streamed."""
    file = Path(path)
    try:
        with file.open("rb") as raw:
            head = raw.read(READ_CHUNK)
            raw.seek(0)
            check_utf8(file, raw)
            size = raw.tell()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", field="file") from exc
    except ValueError as exc:  # a NUL in the path
        raise ValidationError(f"cannot read {path!r}: {exc}", field="file") from exc
    start = head.decode("utf-8-sig", errors="ignore").lstrip()
    if file.suffix.lower() == ".json" or start.startswith(("[", "{")):
        text = jsoninput.decode_utf8(file.read_bytes(), str(path), "file")
        data = jsoninput.loads(text, str(path), "file")
        return Source(file, "json", size, items=data if isinstance(data, list) else [data])
    return Source(file, "csv", size)


# --- what pass 1 remembers ----------------------------------------------------------------------


class CachedRefs(adding.Refs):
    """Services and providers by the text a row gives, each resolved once per import (a
    code, an id or an id prefix: refs.py's rules); the providers that offer each service."""

    def __init__(self) -> None:
        self.services: dict[Any, Service | ValidationError] = {}
        self.provider_lists: dict[tuple[uuid.UUID, Any], list[Provider] | ValidationError] = {}

    def service(self, clinic: Clinic, ref: Any) -> Service:
        key = ref if isinstance(ref, str | int | None) else repr(ref)
        found = self.services.get(key)
        if found is None:
            try:
                found = resolve_service(clinic, ref)
            except ValidationError as err:
                found = err
            self.services[key] = found
        if isinstance(found, ValidationError):
            raise ValidationError(found.message, field=found.field)
        return found

    def providers(self, clinic: Clinic, service: Service, refs: Any) -> list[Provider]:
        if refs is None:
            return []
        text = tuple(refs) if isinstance(refs, list) else refs
        try:
            key = (service.id, text)
            hash(key)
        except TypeError:
            return resolve_providers(clinic, service, refs)
        found = self.provider_lists.get(key)
        if found is None:
            try:
                found = resolve_providers(clinic, service, refs)
            except ValidationError as err:
                found = err
            self.provider_lists[key] = found
        if isinstance(found, ValidationError):
            raise ValidationError(found.message, field=found.field)
        return found


class Add(NamedTuple):
    """A new entry, checked: its columns (but its client's), provider ids, its client. A
    tuple of plain values: the scratch file holds a few million of them at most."""

    number: int
    row: tuple[Any, ...]  # IMPORT_ENTRY_COLUMNS as stored; the client's (index 2) still None
    providers: tuple[str, ...]  # hex ids
    audit: str  # the audit row's changes as JSON (the client's id added when known)
    person: tuple[Any, ...] | None  # ClientInput's fields: details to find or add them by
    client_id: uuid.UUID | None  # an existing client's id, or the id a new one keeps
    action: str  # entry.create | entry.import
    again: tuple[Any, Any] | None = None  # (payload, kept): for an update if the id is taken

    @property
    def client(self) -> ClientInput | None:
        return ClientInput(*self.person) if self.person is not None else None

    @property
    def hex_id(self) -> str:
        return str(self.row[0])


@dataclass
class Existing:
    """A row naming an entry already here: skipped, or updated (payload, kept)."""

    number: int
    entry_id: uuid.UUID
    payload: Any = None
    kept: dict[str, Any] = field(default_factory=dict)


@dataclass
class Waiting:
    """A row that passes only if an earlier row of the file adds what it needs: its client
    (client_id with no details), or a client who exists (a clinic that asks every new
    client's consent, and a row that does not say it)."""

    number: int
    client_id: uuid.UUID | None = None
    person: ClientInput | None = None
    error: ValidationError | None = None


def person_keys(data: ClientInput) -> list[tuple[str, str, str, str]]:
    """The ways find_or_create knows a person: same name and phone, then name and email."""
    first, last = data.first_name.lower(), data.last_name.lower()
    keys = []
    if data.phone:
        keys.append(("phone", first, last, data.phone))
    if data.email:
        keys.append(("email", first, last, data.email))
    return keys


def _fields(person: ClientInput) -> tuple[Any, ...]:
    """ClientInput's fields in order (dataclasses.astuple deep-copies each: a tenth of a
    row's time)."""
    return (
        person.first_name,
        person.last_name,
        person.phone,
        person.email,
        person.consent_sms,
        person.consent_email,
    )


class Spill:
    """Checked rows on a scratch file, a batch per pickle: written in pass 1, read in 2."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115  # 0600, unlinked; close() below
        self.batches = 0

    def put(self, batch: list[Any]) -> None:
        if batch:
            pickle.dump(batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.batches += 1

    def batches_back(self) -> Iterator[list[Any]]:
        self.file.seek(0)
        for _ in range(self.batches):
            yield pickle.load(self.file)  # our own file, written above

    def close(self) -> None:
        self.file.close()


# --- pass 1: check -----------------------------------------------------------------------------


class PhoneAhead:
    """The phone numbers of the next batches parsed in worker processes while this one checks
    the batch before: phonenumbers is the largest single cost of checking a row (~27 µs a
    number, a library's pure Python), and a number's text is all it needs. The workers only
    tell normalize_phone which texts are good numbers (remember_phones); the row is checked
    here as ever, so its errors, their order and their row numbers are what they were.
    Started only for a large file (PARALLEL_ROWS rows or more) on a machine with more than
    one core, with fork (a worker imports nothing and touches no database)."""

    AHEAD = 2  # batches handed out before the first is checked: the workers never wait

    def __init__(self, region: str, workers: int) -> None:
        self.region = region
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        self.pending: deque[tuple[list[tuple[int, str, Any]], Future[dict[str, str]]]] = deque()

    @classmethod
    def start(cls, source: Source, region: str) -> PhoneAhead | None:
        workers = min((os.cpu_count() or 1) - 1, MAX_WORKERS)
        rows = source.size // CSV_ROW_BYTES if source.items is None else len(source.items)
        if workers < 1 or rows < PARALLEL_ROWS:
            return None
        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        return cls(region, workers)

    def put(self, raw: list[tuple[int, str, Any]]) -> list[list[tuple[int, str, Any]]]:
        """Hand the batch's phones out; the batches now ready to check, in order."""
        phones = sorted({p for _, kind, item in raw if (p := _phone_of(kind, item))})
        self.pending.append((raw, self.pool.submit(parse_phones, phones, self.region)))
        return self.ready(self.AHEAD)

    def ready(self, keep: int = 0) -> list[list[tuple[int, str, Any]]]:
        out = []
        while len(self.pending) > keep:
            raw, future = self.pending.popleft()
            remember_phones(self.region, future.result())
            out.append(raw)
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _phone_of(kind: str, item: Any) -> str | None:
    """The text normalize_phone will be asked for this raw row (as payload_from_csv or the
    JSON client gives it), or None."""
    if kind == "csv":
        cell = item.get("phone") if isinstance(item, dict) else None
        return cell.strip() or None if isinstance(cell, str) else None
    client = item.get("client") if isinstance(item, dict) else None
    phone = client.get("phone") if isinstance(client, dict) else None
    return phone if isinstance(phone, str) and phone else None


TEMPLATES_KEPT = 10_000
_NOTES_MARK = "\x00notes\x00"  # stands in for a row's notes in a template's audit text
_STAMPED = ("created_at", "updated_at", "status_changed_at")
_OWN_CELLS = frozenset(("client", "notes"))  # a row's own: not part of its template's key
_CLIENT_ID_KEYS = frozenset({"client_id", *(k for k, v in ALIASES.items() if v == "client_id")})


@dataclass
class RowTemplate:
    """What `adding.prepare` makes of a row's entry fields, all of them but its notes: a
    file repeats its services, providers, days, slots, payment types and dates row after
    row, and checking them again was most of a row's time (issue 18). Only the client, the
    notes, the id and the stamps are a row's own; every other field, and every rule between
    fields, gives what it gave the first row with the same cells on the same day (the key)
    (tests/domain/test_import_templates.py holds the two paths together)."""

    row: list[Any]  # the Add's row with the template row's id, notes and stamps
    notes_at: int
    stamped: tuple[int, ...]
    providers: tuple[str, ...]
    audit: tuple[str, str]  # the audit text before and after the notes

    @staticmethod
    def key(payload: Any, time_zone: str) -> tuple[Any, ...] | None:
        """A new client's row (no client_id) whose cells are text, as a CSV row's are: its
        cells but the client and the notes, and today's date (defaults and the past are
        today's); None for any other row."""
        if not isinstance(payload, dict) or not _CLIENT_ID_KEYS.isdisjoint(payload):
            return None
        if not isinstance(payload.get("client"), dict):
            return None
        cells: list[Any] = [clock.today(time_zone)]
        for k, v in payload.items():
            if k in _OWN_CELLS:
                continue
            kind = type(v)
            if kind is list and all(type(x) is str for x in v):
                v = tuple(v)
            elif kind is not str:  # a JSON number or flag: 1 == True == 1.0 as a key
                return None
            cells += (k, v)
        return tuple(cells)

    @classmethod
    def of(cls, ready: adding.Prepared, row: list[Any], actor: str) -> RowTemplate:
        columns = ("id", "clinic_id", "client_id", "service_id", *_ENTRY_TAIL)
        marked = entry_audit_json({**ready.values, "notes": _NOTES_MARK}, ready.providers)
        before, after = marked.split(f'"notes":[null,{_JSON.encode(_NOTES_MARK)}]')
        return cls(
            row=list(row),
            notes_at=columns.index("notes"),
            stamped=tuple(columns.index(c) for c in _STAMPED),
            providers=tuple(uid(p.id) for p in ready.providers),
            audit=(before, after),
        )

    def add(self, number: int, notes: str, person: ClientInput, now: dt.datetime) -> Add:
        row = self.row.copy()
        row[0] = uuid.uuid4().hex
        row[self.notes_at] = notes
        at = stamp(now)
        for i in self.stamped:
            row[i] = at
        before, after = self.audit
        return Add(
            number=number,
            row=tuple(row),
            providers=self.providers,
            audit=f'{before}"notes":[null,{_JSON.encode(notes)}]{after}',
            person=_fields(person),
            client_id=None,
            action="entry.create",
        )


@dataclass
class Checker:
    clinic: Clinic
    actor: str
    on_existing: str
    errors: list[dict[str, Any]]
    refs: CachedRefs = field(default_factory=CachedRefs)
    waiting: list[Waiting] = field(default_factory=list)
    asks: bool = False
    templates: dict[tuple[Any, ...], RowTemplate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.asks = consent.of(self.clinic).default == consent.ASK

    def fail(self, number: int, err: DomainError) -> None:
        self.errors.append({"row": number, "field": err.field, "message": err.message})

    def batch(self, raw: list[tuple[int, str, Any]]) -> list[Any]:
        """The batch's rows checked: Add and Existing records (errors noted in self.errors)."""
        from waitlist_tui.domain.waitlist import exchange

        parsed: list[tuple[int, Any, dict[str, Any]]] = []
        entry_ids: dict[int, uuid.UUID] = {}
        client_ids: dict[int, uuid.UUID] = {}
        for number, kind, item in raw:
            try:
                payload, kept = (
                    exchange.payload_from_csv(item)
                    if kind == "csv"
                    else exchange.payload_from_json(item)
                )
                if "id" in kept:
                    entry_ids[number] = exchange.uuid_of(kept["id"], "id")
                if "client_id" in kept:
                    client_ids[number] = exchange.uuid_of(kept["client_id"], "client_id")
            except DomainError as err:
                self.fail(number, err)
                continue
            parsed.append((number, payload, kept))
        entries = _by_id(Entry, Entry.clinic, set(entry_ids.values()))
        clients = _by_id(Client, Client.clinic, set(client_ids.values()))
        out: list[Any] = []
        checked: list[tuple[Add, ClientInput | None]] = []
        for number, payload, kept in parsed:
            try:
                entry_id = entry_ids.get(number)
                if entry_id is not None and entry_id in entries:
                    if entries[entry_id] != self.clinic.id:
                        raise ValidationError(
                            f"id {entry_id} is another clinic's entry", field="id"
                        )
                    if self.on_existing == "skip":
                        out.append(Existing(number, entry_id))
                    else:
                        out.append(Existing(number, entry_id, payload, kept))
                    continue
                record = self.add(number, payload, kept, client_ids.get(number), clients)
            except DomainError as err:
                self.fail(number, err)
                continue
            if record is not None:
                out.append(record)
                if self.asks:  # the only use of the row's ClientInput here
                    checked.append((record, record.client))
        if self.asks:
            self.unstated_consents(checked)
        return out

    def add(
        self,
        number: int,
        payload: Any,
        kept: dict[str, Any],
        client_id: uuid.UUID | None,
        clients: dict[uuid.UUID, uuid.UUID],
    ) -> Add | None:
        from waitlist_tui.domain.waitlist import exchange

        if not isinstance(payload, dict):
            raise ValidationError("an entry must be a JSON object", field="entry")
        restored = (
            exchange.restored_of(kept, self.clinic, self.actor)
            if set(kept) - {"client_id"}
            else None
        )
        waiting = None
        if client_id is not None:
            owner = clients.get(client_id)
            if owner is not None and owner != self.clinic.id:
                raise exchange.not_our_client(client_id)
            if owner is not None:
                payload.pop("client", None)
                payload["client_id"] = str(client_id)
            elif payload.get("client") is None:
                waiting = Waiting(number, client_id=client_id)
                payload["client_id"] = str(client_id)  # stands in: checked after the pass
        if restored is None and client_id is None:
            quick = self.quick(number, payload)
            if quick is not None:
                return quick
        ready = adding.prepare(payload, self.actor, self.clinic, restored, refs=self.refs)
        if waiting is not None:
            self.waiting.append(waiting)
        known: uuid.UUID | None = None
        if ready.client_input is None:
            known = client_id if client_id is not None else self.client_of(ready.client_ref)
        values = {
            **{k: v for k, v in ready.values.items() if k not in ("clinic", "service")},
            "version": 1,
            **ready.stamps,
        }
        if restored is None:
            changes = entry_audit_json(ready.values, ready.providers)
        else:
            changes = as_json(
                adding.audit_changes(
                    {**ready.values, "client": None}, ready.providers, ready.stamps
                )
            )
        row: list[Any] = [
            uid(values.get("id") or uuid.uuid4()),
            uid(self.clinic.id),
            None,
            uid(ready.values["service"].id),
        ]
        for name in _ENTRY_TAIL:
            value = values.get(name)
            kind = type(value)
            if kind is str or kind is int or value is None:  # most columns, as they are
                pass
            elif isinstance(value, dt.datetime):
                value = stamp(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            row.append(value)
        row.append(bool(values.get("keep_later_appointment")))  # the column's default: False
        person = ready.client_input
        if restored is None and client_id is None and person is not None:
            self.remember(payload, ready, row)
        return Add(
            number=number,
            row=tuple(row),
            providers=tuple(uid(p.id) for p in ready.providers),
            audit=changes,
            person=_fields(person) if person is not None else None,
            client_id=known if person is None else client_id,
            action="entry.create" if restored is None else "entry.import",
            again=(payload, kept)
            if restored is not None and self.on_existing == "update"
            else None,
        )

    def quick(self, number: int, payload: Any) -> Add | None:
        """A new client's row whose entry fields (all but its notes) are those of a row
        already checked today: its client and notes checked, the rest taken from that row's
        template (RowTemplate); None when there is none, or when anything fails (the row is
        then checked in full, so its errors are what prepare says)."""
        key = RowTemplate.key(payload, self.clinic.time_zone)
        template = self.templates.get(key) if key is not None else None
        if template is None:
            return None
        try:
            person = parse_client(payload["client"], self.clinic.region)
            notes = payload.get("notes")
            notes = (
                ""
                if notes is None
                else text_value(notes, "notes", max_len=MAX_NOTES, multiline=True)
            )
        except DomainError:
            return None
        return template.add(number, notes, person, clock.now())

    def remember(self, payload: Any, ready: adding.Prepared, row: list[Any]) -> None:
        """The row just checked in full as the template of the rows like it (RowTemplate)."""
        key = RowTemplate.key(payload, self.clinic.time_zone)
        if key is None or key in self.templates or ready.values.get("expires_at") is not None:
            return  # an expiry is checked against the time of each row
        if len(self.templates) >= TEMPLATES_KEPT:
            self.templates.clear()
        self.templates[key] = RowTemplate.of(ready, row, self.actor)

    def client_of(self, ref: Any) -> uuid.UUID:
        """A payload's own client_id (a hand-written JSON file): resolved as `add` does."""
        return adding.client_by_ref(self.clinic, ref).id

    def unstated_consents(self, checked: list[tuple[Add, ClientInput | None]]) -> None:
        """A clinic that asks: a new client's consent must be stated. Whether the client is
        new is known from the database here, and from the earlier rows after the pass."""
        unstated = [
            (a, c)
            for a, c in checked
            if c is not None and (c.consent_sms is None or c.consent_email is None)
        ]
        if not unstated:
            return
        known = existing_people([c for _, c in unstated], self.clinic)
        for add, person in unstated:
            if any(key in known for key in person_keys(person)):
                continue
            try:
                consents_for_new(self.clinic, person)
            except ValidationError as err:
                self.waiting.append(Waiting(add.number, person=person, error=err))

    def settle(self, spill: Spill) -> set[int]:
        """The waiting rows: each passes if an earlier valid row adds its client; the numbers
        of those that fail (their errors noted)."""
        if not self.waiting:
            return set()
        ids = {w.client_id for w in self.waiting if w.client_id is not None}
        keys = {k for w in self.waiting if w.person is not None for k in person_keys(w.person)}
        adders: dict[Any, list[int]] = {}  # a wanted client id or person: the rows adding it
        for batch in spill.batches_back():
            for record in batch:
                if not isinstance(record, Add) or record.client is None:
                    continue
                if record.client_id in ids:
                    adders.setdefault(record.client_id, []).append(record.number)
                for key in person_keys(record.client):
                    if key in keys:
                        adders.setdefault(key, []).append(record.number)
        bad: set[int] = set()
        for w in sorted(self.waiting, key=lambda w: w.number):
            wanted = [w.client_id] if w.client_id is not None else person_keys(w.person or _NOBODY)
            if any(n < w.number and n not in bad for k in wanted for n in adders.get(k, ())):
                continue
            bad.add(w.number)
            self.fail(w.number, w.error or _unknown_client(w.client_id))
        self.errors.sort(key=lambda e: e["row"])
        return bad


_NOBODY = ClientInput("", "", None, None)
_ENTRY_TAIL = ENTRY_COLUMNS[4:]  # after id, clinic, client and service
# An imported row may ask to keep its later appointment (a CSV column since schema v18):
# written, not left to the column's default as the demo's rows are.
IMPORT_ENTRY_COLUMNS = (*ENTRY_COLUMNS, "keep_later_appointment")
_STATUS = ENTRY_COLUMNS.index("status")
_CLIENT_FIELD_AT = tuple((k, CLIENT_COLUMNS.index(k)) for k in CLIENT_FIELDS)


def _unknown_client(client_id: uuid.UUID | None) -> ValidationError:
    from waitlist_tui.domain.waitlist import exchange

    return exchange.not_our_client(client_id)


def _as_uuid(value: Any) -> uuid.UUID:
    """An id as a driver returns it (SQLite: hex text; PostgreSQL: text or a UUID)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _in_chunks(sql: str, values: list[Any], *params: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of `sql` (its `IN ({})` filled with placeholders) for 500 values at a time.
    Plain SQL: peewee builds a node per value, as much time as the query itself."""
    mark = database.param
    for i in range(0, len(values), 500):
        chunk = values[i : i + 500]
        cursor = database.execute_sql(sql.format(", ".join([mark] * len(chunk))), (*params, *chunk))
        yield from cursor.fetchall()


def _by_id(model: Any, clinic_field: Any, wanted: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """{id: clinic id} of the rows with these ids (one query per 500 ids)."""
    table, column = model._meta.table_name, clinic_field.column_name
    sql = f'SELECT "id", "{column}" FROM "{table}" WHERE "id" IN ({{}})'
    return {
        _as_uuid(row_id): _as_uuid(clinic_id)
        for row_id, clinic_id in _in_chunks(sql, [i.hex for i in wanted])
    }


def existing_people(people: list[ClientInput], clinic: Clinic) -> dict[tuple[str, ...], Any]:
    """{person key: client row [id, first, last, phone, email, consent_sms, consent_email]}
    of the clinic's clients with these phones or emails, the oldest first: a query per 500
    phones and per 500 emails. (Two queries, not one with `phone IN .. OR email IN ..`:
    SQLite reads that one through the clinic's whole index, a batch's cost growing with the
    clients already imported.)"""
    rows: dict[Any, tuple[Any, ...]] = {}
    for column, values in (
        ("phone", sorted({p.phone for p in people if p.phone})),
        ("email", sorted({p.email for p in people if p.email})),
    ):
        sql = (
            'SELECT "id", LOWER("first_name"), LOWER("last_name"), "phone", "email", '
            '"consent_sms", "consent_email", "created_at" FROM "client" '
            f'WHERE "clinic_id" = {database.param} AND "{column}" IN ({{}})'
        )
        for row in _in_chunks(sql, values, uid(clinic.id)):
            hex_id = _as_uuid(row[0]).hex
            rows[hex_id] = (hex_id, *row[1:5], bool(row[5]), bool(row[6]), str(row[7]))
    found: dict[tuple[str, ...], Any] = {}
    for row in sorted(rows.values(), key=lambda r: (r[7], r[0])):
        _, first, last, phone, email = row[:5]
        if phone:
            found.setdefault(("phone", first, last, phone), list(row[:7]))
        if email:
            found.setdefault(("email", first, last, email), list(row[:7]))
    return found


# --- pass 2: write -----------------------------------------------------------------------------


@dataclass
class Writer:
    clinic: Clinic
    actor: str
    on_existing: str
    errors: list[dict[str, Any]]
    counts: dict[str, int]
    ids: list[str]
    now: dt.datetime
    counter: rollups.BulkEntryCounts
    linker: demand_columns.BulkLinks
    refs: CachedRefs = field(default_factory=CachedRefs)
    consent_memo: dict[tuple[bool | None, bool | None], dict[str, bool]] = field(
        default_factory=dict
    )

    def batch(self, records: list[Any], bad: set[int]) -> None:
        adds = [r for r in records if isinstance(r, Add) and r.number not in bad]
        existing = [r for r in records if isinstance(r, Existing)]
        # An id added by an earlier row of the file (an earlier batch, or this one).
        # A new id (uuid4) is nobody's: only the ids a file gives are looked up.
        given = {uuid.UUID(a.hex_id) for a in adds if a.action == "entry.import"}
        taken = {i.hex for i in _by_id(Entry, Entry.clinic, given)} if given else set()
        fresh: list[Add] = []
        seen: set[str] = set()
        for add in adds:
            if add.hex_id in taken or add.hex_id in seen:
                payload, kept = add.again or (None, {})
                existing.append(Existing(add.number, uuid.UUID(add.hex_id), payload, kept))
            else:
                seen.add(add.hex_id)
                fresh.append(add)
        self.write_adds(fresh)
        if self.on_existing == "update":
            existing = updating.bulk_update(
                existing, self.clinic, self.refs, self.actor, self.counts, self.ids
            )
        for row in sorted(existing, key=lambda r: r.number):
            self.existing(row)

    def write_adds(self, adds: list[Add]) -> None:
        if not adds:
            return
        client_of = self.clients(adds)
        entries: list[tuple[Any, ...]] = []
        links: list[tuple[str, str]] = []
        logs: list[tuple[Any, ...]] = []
        now = stamp(self.now)
        for add in adds:
            client = client_of.get(add.number)
            if client is None:
                continue
            row = add.row
            entries.append((*row[:2], client[0], *row[3:], self.linker.text(add.providers)))
            links.extend((row[0], p) for p in add.providers)
            entry_id = dashed(row[0])
            changes = f'{add.audit[:-1]},"client":[null,"{client[1]}"]}}'
            logs.append((now, self.actor, add.action, "entry", entry_id, changes))
            self.counts["added"] += 1
            self.ids.append(entry_id)
        self.counter.before_insert(booked=any(e[_STATUS] == vocab.BOOKED for e in entries))
        bulk_copy("entry", (*IMPORT_ENTRY_COLUMNS, "provider_ids"), entries)
        bulk_copy("entry_provider", ("entry_id", "provider_id"), links)
        bulk_copy("audit_event", AUDIT_COLUMNS, logs)
        self.counter.add([e[0] for e in entries])

    def clients(self, adds: list[Add]) -> dict[int, tuple[str, str]]:
        """{row number: the client's id (as stored, and as text)}: the client each row names,
        found or added (the same person once: by name and phone, else name and email, as
        find_or_create does)."""
        out: dict[int, tuple[str, str]] = {}
        by_id = _by_id(Client, Client.clinic, {a.client_id for a in adds if a.client_id})
        persons = [a.client for a in adds]  # each built once (a property: a new one each time)
        people = [c for c in persons if c is not None]
        known = existing_people(people, self.clinic) if people else {}
        new_rows: dict[str, list[Any]] = {}
        now = stamp(self.now)
        clinic_id = uid(self.clinic.id)
        for add, person in zip(adds, persons, strict=True):
            if add.client_id is not None and add.client_id in by_id:
                # an existing client's id (checked in pass 1), or one an earlier row added
                out[add.number] = (uid(add.client_id), str(add.client_id))
                continue
            if person is None:  # the earlier row naming it found the same person elsewhere
                err = _unknown_client(add.client_id)
                self.errors.append({"row": add.number, "field": err.field, "message": err.message})
                continue
            keys = person_keys(person)
            found = next((known[k] for k in keys if k in known), None)
            if found is not None:
                hex_id = self.withdraw(found, person, new_rows)
                out[add.number] = (hex_id, dashed(hex_id))
                continue
            try:
                consents = self.consents(person)
            except ValidationError as err:  # settled in pass 1; a race with another desk
                self.errors.append({"row": add.number, "field": err.field, "message": err.message})
                continue
            new_id = add.client_id or uuid.uuid4()
            row: list[Any] = [
                uid(new_id), clinic_id, person.first_name, person.last_name,
                person.phone, person.email, consents["consent_sms"], consents["consent_email"],
                search_text(person.first_name, person.last_name, person.email, person.phone),
                now, now, self.actor, self.actor, 1,
            ]  # fmt: skip
            new_rows[row[0]] = row
            by_id[new_id] = self.clinic.id
            entry = [row[0], person.first_name.lower(), person.last_name.lower(), person.phone,
                     person.email, row[6], row[7]]  # fmt: skip
            for key in keys:
                known.setdefault(key, entry)
            out[add.number] = (row[0], str(new_id))
        logs = [
            (now, self.actor, "client.create", "client", dashed(row[0]),
             as_json({k: [None, row[i]] for k, i in _CLIENT_FIELD_AT}))
            for row in new_rows.values()
        ]  # fmt: skip
        bulk_copy("client", CLIENT_COLUMNS, [tuple(r) for r in new_rows.values()])
        bulk_copy("audit_event", AUDIT_COLUMNS, logs)
        return out

    def consents(self, person: ClientInput) -> dict[str, bool]:
        """consents_for_new, once per import for each way a row states them (the clinic's
        default is the same for every row); a refusal is raised afresh each time."""
        key = (person.consent_sms, person.consent_email)
        found = self.consent_memo.get(key)
        if found is None:
            found = self.consent_memo[key] = consents_for_new(self.clinic, person)
        return dict(found)

    def withdraw(
        self, found: list[Any], person: ClientInput, new_rows: dict[str, list[Any]]
    ) -> str:
        """The client found; a consent the row withdraws is withdrawn (never given back)."""
        client_id = found[0] if isinstance(found[0], str) else uid(found[0])
        withdrawn = {
            k: False
            for i, k in ((5, "consent_sms"), (6, "consent_email"))
            if getattr(person, k) is False and found[i]
        }
        if not withdrawn:
            return client_id
        if client_id in new_rows:  # added by this batch: not written yet
            for k in withdrawn:
                new_rows[client_id][CLIENT_COLUMNS.index(k)] = False
        else:
            set_consent(Client.get_by_id(uuid.UUID(client_id)), withdrawn, self.actor)
        for i, k in ((5, "consent_sms"), (6, "consent_email")):
            if k in withdrawn:
                found[i] = False
        return client_id

    def existing(self, row: Existing) -> None:
        if self.on_existing == "skip" or row.payload is None:
            self.counts["skipped"] += 1
            return
        from waitlist_tui.domain.waitlist import exchange

        try:
            with database.atomic():  # a savepoint: a bad update leaves nothing behind
                existing = Entry.get_by_id(row.entry_id)
                outcome = exchange.update_existing(existing, row.payload, row.kept, self.actor)
                self.linker.add([uid(row.entry_id)])  # its providers may have changed
        except DomainError as err:
            self.errors.append({"row": row.number, "field": err.field, "message": err.message})
            return
        except DatabaseError as exc:
            message = f"the database refused the row: {str(exc).splitlines()[0]}"
            self.errors.append({"row": row.number, "field": "row", "message": message})
            return
        self.counts[outcome] += 1
        if outcome != "skipped":
            self.ids.append(str(row.entry_id))


# --- the import ----------------------------------------------------------------------------------


def import_file(
    path: str | Path,
    actor: str,
    skip_invalid: bool = False,
    on_existing: str = "skip",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Check every row, then write the valid ones in one transaction (all of them, or with
    skip_invalid the valid ones); the counts say what each row did."""
    from waitlist_tui.domain.waitlist import exchange

    if on_existing not in exchange.ON_EXISTING:
        raise ValidationError("on_existing must be skip or update", field="on_existing")
    source = open_source(path)
    clinic = get_clinic()
    errors: list[dict[str, Any]] = []
    spill = Spill()
    ahead = PhoneAhead.start(source, clinic.region)
    try:
        checker = Checker(clinic, actor, on_existing, errors)
        total = 0
        raw: list[tuple[int, str, Any]] = []
        for row in source.rows():
            raw.append(row)
            total += 1
            if len(raw) >= BATCH:
                for ready in ahead.put(raw) if ahead is not None else [raw]:
                    spill.put(checker.batch(ready))
                raw = []
                if progress is not None:
                    _tell(progress, source, total)
        for ready in [*ahead.ready(), raw] if ahead is not None else [raw]:
            spill.put(checker.batch(ready))
        if ahead is not None:
            ahead.close()
            ahead = None
        bad = checker.settle(spill)
        if progress is not None:
            _tell(progress, source, total, done=True)
        if errors and not skip_invalid:
            raise _refusal(errors, total)
        counts = {"added": 0, "updated": 0, "skipped": 0}
        ids: list[str] = []
        with (
            database.atomic(),
            write_cache(),
            sqlite_search.bulk_clients(database.obj),
            deferred_indexes(DEFERRED_INDEXES, total - len(errors), DEFER_INDEXES_FROM),
        ):
            with rollups.bulk_entry_counts() as counter, demand_columns.bulk_links() as linker:
                writer = Writer(
                    clinic, actor, on_existing, errors, counts, ids, clock.now(), counter, linker
                )
                written = 0
                for batch in spill.batches_back():
                    try:
                        writer.batch(batch, bad)
                    except (IntegrityError, DataError) as exc:  # a backstop: pass 1 checks
                        raise Unprocessable(
                            "the database refused rows "
                            f"{batch[0].number}-{batch[-1].number}: "
                            f"{str(exc).splitlines()[0]} (nothing was imported)",
                            field="file",
                        ) from exc
                    written += len(batch)
                    if progress is not None:
                        progress("write", written, total)
            if errors and not skip_invalid:  # an update refused: every row rolls back
                errors.sort(key=lambda e: e["row"])
                raise _refusal(errors, total)
            if counts["added"] or counts["updated"]:  # one that changed nothing writes nothing
                audit.announce_written("entry", ids)
                audit.record(
                    actor,
                    "entry.import",
                    "import",
                    uuid.uuid4(),
                    {
                        "file": [None, source.path.name],
                        **{k: [None, v] for k, v in counts.items()},
                        "invalid": [None, len(errors)],
                        "rows": [None, total],
                    },
                )
    finally:
        spill.close()
        if ahead is not None:
            ahead.close()
    errors.sort(key=lambda e: e["row"])
    return {
        **counts,
        "imported": counts["added"] + counts["updated"],
        "invalid": len(errors),
        "rows": total,
        "ids": ids,
        "errors": errors,
    }


@contextmanager
def write_cache() -> Iterator[None]:
    """SQLite: a page cache of WRITE_CACHE_KIB for the write pass, then the usual one back.
    The new rows' ids are random, so each insert lands on a random page of the primary key,
    the client and the audit indexes; with the usual 32 MiB those pages fell out of the cache
    from a few hundred thousand rows on, and a million-row import took 15 minutes. A setting
    of this connection only (PostgreSQL keeps its shared buffers)."""
    if is_postgres():
        yield
        return
    before = database.execute_sql("PRAGMA cache_size").fetchone()[0]
    database.execute_sql(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        database.execute_sql(f"PRAGMA cache_size = {int(before)}")


def _tell(progress: Progress, source: Source, rows: int, done: bool = False) -> None:
    if source.kind == "csv":
        progress("check", source.size if done else source.position(), source.size)
    else:
        progress("check", rows, len(source.items or ()))


def _refusal(errors: list[dict[str, Any]], total: int) -> ValidationError:
    first = errors[0]
    return ValidationError(
        f"row {first['row']}: {first['message']} ({len(errors)} of {total} rows "
        "are invalid; nothing was imported: fix them, or use --skip-invalid to import "
        "the valid rows)",
        field=first["field"],
        data={"errors": errors},
    )

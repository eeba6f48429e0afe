"""The query count of a 1,000-row import, pinned (issues 16 and 18): a query per row more (an
N+1, such as reading each new entry's view back, or a client looked up per row) fails this
test. On both backends.

Measured for 1,000 rows (savepoints included; bulk: SQLite / PostgreSQL, which differ by a
statement or two: SQLite's page cache PRAGMAs; PostgreSQL's entry trigger switched off and
its grouped entry counts, and the NOTIFY that tells the live desks of the rows COPY wrote):

| import                          | issue 16 | after 16 | bulk (18) | bulk update (18) |
| ------------------------------- | -------- | -------- | --------- | ---------------- |
| new rows (new clients, by name) | 16,501   | 14,501   | 15 / 17   | 13 / 15          |
| the export again, update        | 15,501   | 13,501   | 13,509 / 13,508 | 20 / 20    |
| a backup into an empty database | 19,501   | 17,501   | 21 / 23   | 21 / 23          |

On SQLite the entry triggers are now dropped for the import's transaction too (the counting
one's upsert per row, and the booked entries' one that SQLite runs per row only to find the
row not booked: about 30 µs a row each): their texts read, two DROPs, two CREATEs and the
grouped count (one a batch of 2,000), six statements more an import: new rows 15 -> 19, a
backup 21 -> 27; an import that only updates drops nothing.

Schema v19 and v20 add statements an import, none a row: the trigger that keeps
entry.provider_ids (demand_columns.bulk_links) is off for the transaction, new entries carry
the column in their own rows (SQLite: its text read, DROP, CREATE; PostgreSQL: a look-up,
DISABLE, ENABLE); on SQLite the search index takes the
new clients in one INSERT ... SELECT at the end, its triggers dropped and made again around
it (sqlite_search.bulk_clients: 14 statements). SQLite: new rows 19 -> 37, update 20 -> 37, a
backup 27 -> 45; PostgreSQL: update 20 -> 23.

Since issue 18 a new row costs no query of its own: the rows are checked a batch at a time
(the entries and clients their ids name: a query per batch), then written a batch at a time
(the batch's clients found, new clients, entries, their providers, audit rows, and on
PostgreSQL the entry counts of the stats rollups: a statement each). An update that changes
only an entry's own columns is written in bulk too (waitlist/updating.py: the batch's entries
and providers read, an UPDATE per set of changed columns, the audit rows in one insert); one
that changes its service, providers, dates or status still goes through `changes.change` one
row at a time (a savepoint, the row read, the versioned UPDATE and its audit row).

The `clinic` fixture (through `db`) freezes the clock at Fri 20 Nov 2026; the rows' dates
follow it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.maintenance import wipe
from waitlist_tui.domain.store.models import Entry
from waitlist_tui.domain.waitlist import exchange, importing

ROWS = 1000
# The figures above: a count may go down (then lower it here), never up.
MOST_QUERIES = {"new": 37, "update": 37, "restore": 45}
HEADER = (
    "first_name,last_name,phone,email,service,preferred_providers,preferred_days,"
    "preferred_time_slots,date_range_start,date_range_end,payment_type,priority,notes"
)


def _new_rows(path: Path) -> Path:
    """A hand-written file: every row a new client; half prefer a provider."""
    lines = [HEADER]
    for i in range(ROWS):
        service, providers = ("PT-EVAL", "KIM") if i % 2 else ("MASSAGE", "")
        lines.append(
            f"Client{i},Test,617-555-{i:04d},c{i}@example.com,{service},{providers},"
            f"MONDAY,MORNING,2026-11-23,2026-12-18,SELF_PAY,{1 + i % 5},row {i}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _exported(path: Path, notes: str | None = None) -> Path:
    """The database's entries as an export writes them (ids and history kept), with every
    row's notes changed when `notes` is given (an import with on_existing=update)."""
    out = io.StringIO()
    exchange.export(out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    if notes is not None:
        for row in rows:
            row["notes"] = notes
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=exchange.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _import(path: Path, on_existing: str = "skip") -> tuple[dict[str, object], int]:
    with count_queries() as counted:
        result = exchange.import_file(path, STAFF, on_existing=on_existing)
    return result, counted.count


@pytest.mark.usefixtures("clinic")
def test_a_1000_row_import_costs_a_fixed_number_of_queries_per_row(tmp_path: Path) -> None:
    new, new_queries = _import(_new_rows(tmp_path / "new.csv"))
    assert (new["added"], new["invalid"]) == (ROWS, 0)

    changed, update_queries = _import(_exported(tmp_path / "changed.csv", "changed"), "update")
    assert (changed["updated"], changed["invalid"]) == (ROWS, 0)

    backup = _exported(tmp_path / "backup.csv")
    with database.atomic():
        wipe()
    apply_setup(demo_clinic(), STAFF)
    restored, restore_queries = _import(backup)
    assert (restored["added"], restored["invalid"]) == (ROWS, 0)
    assert Entry.select().count() == ROWS
    counts = {"new": new_queries, "update": update_queries, "restore": restore_queries}
    over = {k: (n, MOST_QUERIES[k]) for k, n in counts.items() if n > MOST_QUERIES[k]}
    assert not over, f"queries (counted, most allowed) for {ROWS} rows: {over}"


@pytest.mark.usefixtures("clinic")
def test_new_rows_cost_a_few_queries_a_batch_however_many_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten batches cost ten times a batch's queries, not a query a row."""
    monkeypatch.setattr(importing, "BATCH", 100)
    result, queries = _import(_new_rows(tmp_path / "new.csv"))
    assert (result["added"], result["invalid"]) == (ROWS, 0)
    per_batch = 7  # checked: 2 look-ups; written: clients found, clients, their audit rows,
    # entries, providers, audit rows, counts (a few are skipped when empty)
    assert queries <= 10 * per_batch + 10, queries

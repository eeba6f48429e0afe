"""The demo hands its rows over a chunk at a time and lets them go (a million entries held
2 GB): what later rows read of earlier entries stays packed (demo.Made), and the rollups are
worked out chunk by chunk. However small the chunks, the build writes the same rows and the
same rollups as a rebuild from the tables."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domain.test_stats_rollups import _rollup_rows
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.store import rollup_rebuild
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Entry, Offer, Opening


def _written() -> dict[str, list[Any]]:
    """The generated rows that name no setup id (the clinic's ids are new on every build)."""
    return {
        "entries": list(
            Entry.select(Entry.id, Entry.client, Entry.status, Entry.created_at, Entry.priority)
            .order_by(Entry.id)
            .tuples()
        ),
        "offers": list(
            Offer.select(
                Offer.id, Offer.opening, Offer.entry, Offer.status, Offer.match_type, Offer.sent_at
            )
            .order_by(Offer.id)
            .tuples()
        ),
        "openings": list(
            Opening.select(Opening.id, Opening.status, Opening.starts_at)
            .order_by(Opening.id)
            .tuples()
        ),
    }


def test_small_chunks_write_what_one_chunk_writes(
    db: object, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "CHUNK", 1_000_000)
    demo.build(entries=300, seed=5)
    whole = _written()
    monkeypatch.setattr(demo, "CHUNK", 17)
    demo.build(entries=300, seed=5)
    chunked = _written()
    assert len(chunked["offers"]) > 100
    assert chunked == whole
    # A declined offer went to an entry of an earlier chunk, read back from the packed store.
    declined = Offer.select().where(Offer.status == "declined").count()
    assert declined > 0


def test_rollups_worked_out_chunk_by_chunk_equal_a_rebuild(
    db: object, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "CHUNK", 23)
    demo.build(entries=400, seed=3)
    built = _rollup_rows(backend)
    with database.atomic() as tx:
        rollup_rebuild.rebuild()
        rebuilt = _rollup_rows(backend)
        tx.rollback()
    assert built[1] == rebuilt[1]
    assert built[0] == rebuilt[0]


def test_packed_entries_read_back_as_their_rows() -> None:
    rows: list[tuple[Any, ...]] = []
    wanted_of: dict[str, frozenset[str]] = {}
    made = demo.Made(rows, wanted_of)

    def row(n: int, days: int, slots: int, lo: int | None, hi: int | None) -> tuple[Any, ...]:
        filler = (None,) * 12
        return (
            f"{n:032x}",
            "c",
            "k",
            f"s{n % 2}",
            "waiting",
            3,
            "x",
            "y",
            days,
            slots,
            lo,
            hi,
            *filler,
        )

    rows += [row(1, 0, 0, None, None), row(2, 31, 4, 480, 960)]
    wanted_of[f"{2:032x}"] = frozenset({"p1", "p2"})
    before = [made[0], made[1]]
    made.pack()
    rows.clear()
    wanted_of.clear()
    rows.append(row(3, 5, 1, None, None))
    assert len(made) == 3
    assert [made[0], made[1]] == before
    assert made[1] == (f"{2:032x}", "s0", (frozenset({"p1", "p2"}), 31, 4, (480, 960)))
    assert made[2] == (f"{3:032x}", "s1", (frozenset(), 5, 1, (None, None)))

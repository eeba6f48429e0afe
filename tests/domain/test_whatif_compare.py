"""The what-if comparison: runs on a copy (the live file's bytes and time stay as they were),
the same seed gives the same result, settings share one drawn world, and the figures are
the dashboard's stats() of the copy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import STAFF
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.catalog.tuning import apply_tuning, parse_tuning
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.models import AuditEvent, Clinic
from waitlist_tui.domain.whatif.compare import compare

TUNINGS = [
    parse_tuning({"name": "sequential"}),
    parse_tuning(
        {"name": "broadcast", "clinic": {"default_workflow": "BROADCAST", "broadcast_top_n": 4}}
    ),
]


@pytest.fixture
def live(tmp_path: Path, frozen: object) -> Iterator[Path]:
    """A desk's own SQLite file holding a small demo clinic, still bound as the app has it."""
    path = tmp_path / "live.db"
    db = connect(str(path))
    demo.build(entries=40, seed=3, actor=STAFF)
    yield path
    db.close()


def _fingerprint(path: Path) -> list[tuple[str, str, int]]:
    out = []
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            out.append(
                (
                    name.name,
                    hashlib.sha256(name.read_bytes()).hexdigest(),
                    os.stat(name).st_mtime_ns,
                )
            )
    return out


def test_runs_on_a_copy_and_repeats_exactly(live: Path) -> None:
    before = _fingerprint(live)
    first = compare(str(live), TUNINGS, seed=5, days=1)
    assert _fingerprint(live) == before  # the live file was only read
    again = compare(str(live), TUNINGS, seed=5, days=1)
    assert again.to_dict() == first.to_dict()
    # the models are bound to the live database again afterwards
    assert Clinic.get().default_workflow == "SEQUENTIAL"


def test_settings_share_one_world(live: Path) -> None:
    result = compare(str(live), TUNINGS, seed=7, days=1)
    seq, bcast = result.outcomes
    assert seq.cancellations == bcast.cancellations == len(result.world.cancellations)
    assert seq.arrivals == bcast.arrivals
    assert seq.settings["default_workflow"] == "SEQUENTIAL"
    assert bcast.settings["default_workflow"] == "BROADCAST"
    assert bcast.settings["broadcast_top_n"] == 4
    for o in result.outcomes:
        assert o.openings >= o.filled
        assert isinstance(o.fairness_skips, int) and o.fairness_skips >= 0  # stats fairness


def test_apply_tuning_writes_with_an_audit_row(live: Path) -> None:
    tuning = parse_tuning({"name": "short hold", "clinic": {"offer_hold_minutes": 45}})
    changes = apply_tuning(tuning, STAFF)
    assert changes == {"offer_hold_minutes": [120, 45]}
    assert Clinic.get().offer_hold_minutes == 45
    row = AuditEvent.select().where(AuditEvent.action == "clinic.tune").get()
    assert row.actor == STAFF
    assert apply_tuning(tuning, STAFF) == {}  # nothing differs: nothing written


def test_only_a_manager_applies_a_settings_file(live: Path, tmp_path: Path) -> None:
    """Once staff accounts exist, "apply" is a manager's: desk staff get 4030 and the clinic
    stays as it was; a manager's apply writes."""
    from waitlist_tui.domain.access.accounts import add_staff
    from waitlist_tui.domain.catalog.tuning import apply_file
    from waitlist_tui.domain.errors import Forbidden

    path = tmp_path / "hold.toml"
    path.write_text('name = "hold 45"\n[clinic]\noffer_hold_minutes = 45\n')
    add_staff("dana", "desk", "a long enough password 1", STAFF)
    add_staff("mo", "manager", "a long enough password 2", STAFF)
    with pytest.raises(Forbidden) as refused:
        apply_file(path, "dana")
    assert refused.value.code == 4030 and Clinic.get().offer_hold_minutes == 120
    assert not AuditEvent.select().where(AuditEvent.action == "clinic.tune").exists()
    assert apply_file(path, "mo") == {"offer_hold_minutes": [120, 45]}


def test_offer_rules_are_tuned_and_cleared(live: Path) -> None:
    """A settings file's [[offer_rules]] replace the clinic's rules by lead time, and
    `offer_rules = []` clears them (so a default workflow compared applies to every opening);
    a file naming none leaves them; gaps are refused as the set-up file refuses them."""
    from waitlist_tui.domain.catalog.tuning import current

    rules = [
        {"from_hours": 0, "to_hours": 24, "workflow": "BROADCAST", "top": 5, "hold": "deadline"},
        {"from_hours": 24, "workflow": "SEQUENTIAL", "hold_minutes": 60},
    ]
    changes = apply_tuning(parse_tuning({"name": "bands", "offer_rules": rules}), STAFF)
    assert [r["workflow"] for r in changes["offer_rules"][1]] == ["BROADCAST", "SEQUENTIAL"]
    apply_tuning(parse_tuning({"clinic": {"offer_hold_minutes": 45}}), STAFF)
    assert len(current()["offer_rules"]) == 2
    apply_tuning(parse_tuning({"offer_rules": []}), STAFF)
    assert current()["offer_rules"] == []
    with pytest.raises(ValidationError, match="gap"):
        parse_tuning({"offer_rules": [rules[0], {**rules[1], "from_hours": 30}]})


def test_a_bad_setting_is_refused_before_anything(live: Path) -> None:
    with pytest.raises(ValidationError, match="clinic.colour is not a setting"):
        parse_tuning({"clinic": {"colour": "blue"}})
    with pytest.raises(ValidationError, match="offer_hold_minutes"):
        parse_tuning({"clinic": {"offer_hold_minutes": 1}})
    with pytest.raises(ValidationError, match="max_offers_per_day"):
        parse_tuning({"messages": {"max_offers_per_day": 99}})


def test_compares_a_copy_of_either_backend(db: object, db_url: str) -> None:
    """PostgreSQL is copied into a scratch SQLite file in one read-only snapshot; its rows
    stay as they were."""
    demo.build(entries=30, seed=2, actor=STAFF)
    offers_before = AuditEvent.select().count()
    result = compare(db_url, TUNINGS[:1], seed=2, days=1)
    assert result.outcomes[0].openings >= result.outcomes[0].filled
    assert AuditEvent.select().count() == offers_before  # nothing written to the source
    assert Clinic.get().default_workflow == "SEQUENTIAL"


def test_two_builds_of_one_clinic_draw_the_same_month(tmp_path: Path, frozen: object) -> None:
    """Draws are keyed by what stays the same between copies (provider codes, slot times),
    not by row ids, which a rebuilt clinic set-up draws anew."""
    results = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        db = connect(str(path))
        demo.build(entries=40, seed=3, actor=STAFF)
        db.close()
        results.append(compare(str(path), TUNINGS[:1], seed=9, days=1).to_dict())
    assert results[0] == results[1]


def test_settings_in_worker_processes_give_what_one_process_gives(live: Path) -> None:
    """Side by side (one process per setting, each on its own copy) changes no figure."""
    tunings = [*TUNINGS, parse_tuning({"name": "short", "clinic": {"offer_hold_minutes": 30}})]
    seen: list[tuple[int, float]] = []
    alone = compare(str(live), tunings, seed=5, days=2, workers=1)
    together = compare(
        str(live), tunings, seed=5, days=2, workers=2, progress=lambda i, f: seen.append((i, f))
    )
    assert together.to_dict() == alone.to_dict()
    assert [o.name for o in together.outcomes] == ["sequential", "broadcast", "short"]
    assert {(i, 1.0) for i in range(3)} <= set(seen)  # every setting reported done
    assert Clinic.get().default_workflow == "SEQUENTIAL"  # still bound to the live file

"""`waitlist-tui maintenance rebuild-stats`: the rollups recomputed, the figures unchanged."""

from __future__ import annotations

from tests.cli.conftest import add_entry, envelope
from waitlist_tui.domain.store.db import database


def test_rebuild_stats_repairs_drifted_rollups(run, tmp_path) -> None:
    add_entry(run, tmp_path, "Ann", "Rebuild")
    add_entry(run, tmp_path, "Bo", "Rebuild")
    before = envelope(run("stats", "--json"))
    assert before["total"] == 2

    kept = envelope(run("maintenance", "rebuild-stats", "--check", "--json"))
    assert kept["matched"] is True and kept["stats_count"] > 0 and kept["stats_point"] == 0

    database.execute_sql("DELETE FROM stats_count")  # drift, as a bad restore might leave
    assert envelope(run("stats", "--json"))["total"] == 0
    fixed = run("maintenance", "rebuild-stats", "--check")
    assert fixed.exit_code == 0, fixed.output
    assert "stats rollups rebuilt" in fixed.output and "they had drifted" in fixed.output
    assert envelope(run("stats", "--json")) == before

    add_entry(run, tmp_path, "Cy", "Rebuild")  # the triggers are back on
    assert envelope(run("stats", "--json"))["total"] == 3

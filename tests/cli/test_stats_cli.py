"""`waitlist-tui stats`: the JSON envelope over a booking made through the CLI, and errors.

The dates below are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import json

from tests.cli.conftest import add_entry, envelope


def add(run, tmp_path, first: str, **extra) -> str:
    return add_entry(run, tmp_path, first, "Stats", **extra)


def test_stats_envelope_after_a_booking(run, tmp_path) -> None:
    empty = envelope(run("stats", "--json"))
    assert (empty["total"], empty["conversion_rate"], empty["average_wait_days"]) == (0, 0.0, 0.0)
    assert [w["week_start"] for w in empty["weekly"]][-1] == "2026-11-16"

    add(run, tmp_path, "Ann")
    add(run, tmp_path, "Bo")
    opening = envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            "2026-11-23T09:00",
            "--minutes",
            "60",
            "--json",
        )
    )
    sent = envelope(run("offers", "send", "--opening", opening["id"][:8], "--json"))
    declined = envelope(run("offers", "decline", sent[0]["id"][:8], "--json"))
    envelope(run("offers", "accept", declined["next_offers"][0]["id"][:8], "--json"))

    data = envelope(run("stats", "--json"))
    assert set(data) >= {
        "clinic",
        "since",
        "until",
        "provider",
        "counts",
        "total",
        "active_count",
        "conversion_rate",
        "average_wait_days",
        "days_sooner",
        "offers",
        "openings",
        "by_service",
        "by_provider",
        "weekly",
    }
    assert data["counts"] == {"waiting": 1, "offered": 0, "booked": 1, "cancelled": 0, "expired": 0}
    assert (data["total"], data["active_count"], data["conversion_rate"]) == (2, 1, 50.0)
    assert data["offers"] == {
        "sent": 2,
        "pending": 0,
        "accepted": 1,
        "declined": 1,
        "expired": 0,
        "rescinded": 0,
        "acceptance_rate": 50.0,
    }
    assert (data["openings"]["filled"], data["openings"]["fill_rate"]) == (1, 100.0)
    kim = next(p for p in data["by_provider"] if p["provider"] == "KIM")
    assert kim["counts"]["booked"] == 1 and kim["total"] == 1
    assert data["weekly"][-1] == {
        "week_start": "2026-11-16",
        "entries_added": 2,
        "entries_booked": 1,
        "openings_filled": 1,
    }
    assert envelope(run("stats", "--provider", "kim", "--json"))["total"] == 1
    assert envelope(run("--json", "stats", "--since", "2026-11-21"))["total"] == 0
    text = run("stats", "--until", "2026-11-20")
    assert text.exit_code == 0, text.output
    assert "conversion 50.0%" in text.output and "By provider" in text.output


def test_stats_errors_name_the_field(run) -> None:
    backwards = run("stats", "--since", "2026-11-20", "--until", "2026-11-01", "--json")
    assert backwards.exit_code == 1
    assert json.loads(backwards.output) == {
        "code": 4000,
        "message": "until must be on or after since",
        "data": None,
    }
    nobody = run("stats", "--provider", "NOBODY")
    assert nobody.exit_code == 1
    assert "4000: provider: 'NOBODY' is not a provider of this clinic" in nobody.output


def test_no_fill_time_before_anything_is_filled(run) -> None:
    """ "median 0.0 min to fill" (and the app's "Fill time 0m") read as slots filled at once."""
    text = run("stats")
    assert text.exit_code == 0 and "min to fill" not in text.output
    assert "filled 0 (0.0%)" in text.output


def test_one_providers_text_says_what_it_counts(run) -> None:
    """ "Waiting 0, Active 0, Converted 100.0%" for a provider whom entries asked for."""
    text = run("stats", "--provider", "KIM")
    assert text.exit_code == 0, text.output
    assert "booked entries only: a waiting one has no provider yet" in text.output
    assert "conversion" not in text.output
    assert "Last 12 weeks, KIM only: entries booked with them, their openings filled" in text.output

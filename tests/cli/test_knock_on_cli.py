"""Issue 22 on the command line: knock-on fill (`offers accept` releases the later
appointment, `openings show` names the booking that freed it, `stats knock-on`,
`entries keep-later`) and `stats demand` (text, --json, --csv, --out FILE 0600).

Dates are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it)."""

from __future__ import annotations

import csv
import json
import os
import stat

from tests.cli.conftest import add_entry, envelope


def _client_of(run, entry_id: str) -> str:
    return envelope(run("entries", "show", entry_id[:8], "--json"))["client"]["id"]


def test_accept_releases_the_later_appointment_and_shows_the_chain(run, tmp_path) -> None:
    ana = add_entry(run, tmp_path, "Ana", priority=1)
    later = envelope(
        run(
            "appointments",
            "add",
            "--client",
            _client_of(run, ana)[:8],
            "--provider",
            "KIM",
            "--service",
            "PT-EVAL",
            "--start",
            "2026-11-30T10:00",
            "--json",
        )
    )
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
    # the later booking was typed for the client, not the entry: link it by its time
    envelope(
        run(
            "entries",
            "update",
            ana[:8],
            "--json-file",
            "-",
            "--json",
            stdin=json.dumps({"original_appointment_at": later["start"]}),
        )
    )
    sent = envelope(run("offers", "send", "--opening", opening["id"][:8], "--json"))
    text = run("offers", "accept", sent[0]["id"][:8])
    assert text.exit_code == 0, text.output
    assert "knock-on: later appointment released (7.0 days sooner): opening" in text.output
    freed = envelope(run("openings", "list", "--json"))
    assert [o["source"] for o in freed] == ["knock_on"]
    shown = envelope(run("openings", "show", freed[0]["id"][:8], "--json"))
    assert shown["freed_by"]["client"] == "Ana Cli" and shown["freed_by"]["days_sooner"] == 7.0
    assert shown["chain"] == opening["id"]
    words = run("openings", "show", freed[0]["id"][:8]).output
    assert "freed by booking" in words and "Ana Cli moved up to Mon 23 Nov 09:00" in words
    first = envelope(run("openings", "show", opening["id"][:8], "--json"))
    assert [o["id"] for o in first["freed"]] == [freed[0]["id"]]
    chains = envelope(run("stats", "knock-on", "--json"))
    assert (chains["count"], chains["moved_up"], chains["days_sooner"]) == (1, 1, 7.0)
    assert "1 appointments moved up in 1 chains" in run("stats", "knock-on").output


def test_keep_later_is_set_and_cleared(run, tmp_path) -> None:
    ana = add_entry(run, tmp_path, "Kay")
    assert envelope(run("entries", "keep-later", ana[:8], "--json"))["keep_later_appointment"]
    assert "releases the later" in run("entries", "keep-later", ana[:8], "--off").output
    missing = run("entries", "keep-later", "ffffffff", "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["code"] == 4040


def test_stats_demand_text_json_and_csv(run, tmp_path) -> None:
    for first in ("Sa", "Sb"):
        add_entry(
            run,
            tmp_path,
            first,
            preferred_providers=["KIM"],
            preferred_days=["SATURDAY"],
            preferred_time_slots=["MORNING"],
        )
    add_entry(run, tmp_path, "Mo", preferred_days=["MONDAY"])
    data = envelope(run("stats", "demand", "--json"))
    assert (data["waiting_total"], data["no_free_slot_total"]) == (3, 2)
    top = data["cells"][0]
    assert (top["provider"], top["weekday"], top["part_of_day"], top["no_free_slot"]) == (
        "KIM",
        "SATURDAY",
        "MORNING",
        2,
    )
    assert data["suggestions"][0]["text"].endswith(
        "on Saturday mornings would fit 2 waiting entries"
    )
    text = run("stats", "demand").output
    assert "suggestion: 1 extra hour of Dr. Alex Kim on Saturday mornings" in text
    assert "Where demand goes unmet" in text
    rows = list(csv.DictReader(run("stats", "demand", "--csv").output.splitlines()))
    assert rows[0]["weekday"] == "SATURDAY" and len(rows) == len(data["cells"])
    out = tmp_path / "reports" / "demand.csv"
    wrote = envelope(run("stats", "demand", "--out", str(out), "--json"))
    assert wrote["rows"] == len(data["cells"])
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    bad = run("stats", "demand", "--service", "NOPE", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["code"] == 4000
    assert envelope(run("stats", "--json"))["total"] == 3  # the plain report still answers

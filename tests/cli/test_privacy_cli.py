"""`audit list` (filters, paging, --json), `clients erase` (asks unless --yes) and
`maintenance purge` (a dry run unless --apply) on the command line. Both backends; the
`run` fixture freezes the clock at Friday 2026-11-20."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum

from tests.cli.conftest import SETUP, add_entry, envelope
from tests.timetravel import move_to


def test_audit_list_filters_and_pages(run, tmp_path) -> None:
    ann = add_entry(run, tmp_path, "Ann", "Lee")
    bob = add_entry(run, tmp_path, "Bob", "Wu")
    assert (
        run(
            "entries", "update", ann, "--json-file", "-", stdin='{"notes": "mornings only"}'
        ).exit_code
        == 0
    )
    run("entries", "cancel", bob, "--reason", "moved")

    mine = envelope(run("audit", "list", "--entry", ann[:8], "--json"))["items"]
    assert [r["action"] for r in mine] == ["entry.update", "entry.create"]
    assert {r["object_id"] for r in mine} == {ann}
    client = envelope(run("entries", "show", bob, "--json"))["client"]["id"]
    theirs = envelope(run("audit", "list", "--client", client, "--json"))["items"]
    assert theirs[0]["action"] == "entry.cancelled"
    assert {r["object_id"] for r in theirs} >= {bob, client}

    updates = envelope(run("audit", "list", "--kind", "entry.update", "--json"))["items"]
    assert len(updates) == 1
    assert len(envelope(run("audit", "list", "--kind", "entry", "--json"))["items"]) == 4
    assert envelope(run("audit", "list", "--by", "nobody", "--json"))["items"] == []
    assert len(envelope(run("audit", "list", "--by", "maria", "--json"))["items"]) >= 4
    today = envelope(run("audit", "list", "--from", "2026-11-20", "--to", "2026-11-20", "--json"))
    assert len(today["items"]) >= 4
    assert envelope(run("audit", "list", "--to", "2026-11-19", "--json"))["items"] == []

    first = envelope(run("audit", "list", "--kind", "entry", "--limit", "3", "--json"))
    rest = envelope(
        run("audit", "list", "--kind", "entry", "--limit", "3", "--offset", "3", "--json")
    )
    assert (first["more"], rest["more"], len(rest["items"])) == (True, False, 1)
    assert {r["id"] for r in first["items"]}.isdisjoint({r["id"] for r in rest["items"]})

    text = run("audit", "list", "--entry", ann)
    assert text.exit_code == 0, text.output
    assert "entry.update" in text.output and "notes: mornings" in text.output
    assert "rows 1-2, newest first; no more" in text.output
    bad = run("audit", "list", "--from", "last tuesday", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["code"] == 4000


def test_clients_erase_asks_and_refuses_a_live_entry(run, tmp_path) -> None:
    entry = add_entry(run, tmp_path, "Zora", "Private")
    client = envelope(run("entries", "show", entry, "--json"))["client"]["id"]
    live = run("clients", "erase", client, "--yes", "--json")
    assert live.exit_code == 1 and json.loads(live.output)["code"] == 4090
    run("entries", "cancel", entry)
    kept = run("clients", "erase", client, stdin="n\n")
    assert "Erase the personal data of Zora Private" in kept.output
    assert "nothing erased" in kept.output
    unasked = run("clients", "erase", client, "--json")
    assert json.loads(unasked.output)["code"] == 4000

    done = run("clients", "erase", client, stdin="y\n")
    assert done.exit_code == 0, done.output
    assert f"client {client[:8]} erased: 1 entries" in done.output
    assert envelope(run("clients", "list", "--search", "Zora", "--json"))["total"] == 0
    trail = envelope(run("audit", "list", "--client", client, "--json"))["items"]
    assert trail[0]["action"] == "client.erased"
    assert "Zora" not in json.dumps(trail) and "Private" not in json.dumps(trail)


def test_maintenance_purge_is_a_dry_run_unless_applied(run, tmp_path) -> None:
    none = run("maintenance", "purge")
    assert "no retention rule" in none.output
    setup = tmp_path / "clinic.toml"
    text = Path(SETUP).read_text(encoding="utf-8")
    setup.write_text(text + "\n[retention]\npurge_closed_after_months = 12\n", encoding="utf-8")
    assert run("setup", str(setup)).exit_code == 0
    entry = add_entry(run, tmp_path, "Old", "Timer", notes="a private note")
    run("entries", "cancel", entry)
    move_to(pendulum.now("UTC").add(months=13))

    dry = run("maintenance", "purge")
    assert dry.exit_code == 0, dry.output
    assert "would purge 1 clients (erased)" in dry.output and "a dry run" in dry.output
    assert envelope(run("clients", "list", "--search", "Timer", "--json"))["total"] == 1
    done = envelope(run("maintenance", "purge", "--apply", "--json"))
    assert (done["applied"], done["clients_erased"]) == (True, 1)
    assert envelope(run("clients", "list", "--search", "Timer", "--json"))["total"] == 0
    again = envelope(run("maintenance", "purge", "--apply", "--json"))
    assert (again["applied"], again["clients_erased"]) == (False, 0)
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\n[retention]\npurge_closed_after = 12\n", encoding="utf-8")
    refused = run("setup", str(bad), "--json")
    assert json.loads(refused.output)["message"].startswith("retention.purge_closed_after is not")

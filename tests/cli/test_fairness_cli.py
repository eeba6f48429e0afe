"""`openings show --why`, `openings skip`, `stats fairness` and `stats lead-time`."""

from __future__ import annotations

import json

from tests.cli.conftest import ASSETS, add_entry, envelope


def _opening(run, minutes: int = 60, start: str = "2026-11-24T09:00") -> dict:
    return envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            start,
            "--minutes",
            str(minutes),
            "--json",
        )
    )


def test_skip_then_offer_then_why(run, tmp_path) -> None:
    ana = add_entry(run, tmp_path, "Ana", priority=1)
    add_entry(run, tmp_path, "Ben", priority=2)
    opening = _opening(run)
    skipped = envelope(
        run(
            "openings",
            "skip",
            opening["id"][:8],
            "--entry",
            ana[:8],
            "--reason",
            "on holiday",
            "--json",
        )
    )
    assert skipped["reason"] == "on holiday"
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    assert sent[0]["client"] == "Ben Cli"
    data = envelope(run("openings", "show", opening["id"][:8], "--why", "--json"))
    ranking = data["why"]["rankings"][0]
    assert [(r["rank"], r["client"], r["state"]) for r in ranking["rows"] if r["rank"]] == [
        (1, "Ana Cli", "not_offered"),
        (2, "Ben Cli", "offered"),
    ]
    assert ranking["summary"].startswith("offered to #2 Ben Cli (EXACT, priority 2")
    assert "#1 Ana Cli not offered: skipped by the desk: on holiday" in ranking["summary"]
    text = run("openings", "show", opening["id"][:8], "--why")
    assert text.exit_code == 0, text.output
    assert "skipped by the desk: on holiday" in text.output
    assert "workflow: starts in" in text.output
    report = envelope(run("stats", "fairness", "--from", "2026-11-01", "--json"))
    assert report["passed_over_count"] == 1
    passed = report["passed_over"][0]
    assert passed["offered"][0]["client"] == "Ben Cli"
    assert passed["passed_over"][0]["reason"] == "skipped by the desk: on holiday"
    assert report["wait_before_first_offer"]["by_priority"] == [
        {"key": 2, "entries": 1, "median_days": 0.0}
    ]
    text = run("stats", "fairness")
    assert text.exit_code == 0 and "past #1 Ana Cli: skipped by the desk: on holiday" in text.output


def test_skip_errors_name_the_field(run, tmp_path) -> None:
    ana = add_entry(run, tmp_path, "Ana")
    opening = _opening(run)
    blank = run("openings", "skip", opening["id"], "--entry", ana, "--reason", " ", "--json")
    body = json.loads(blank.output)
    assert blank.exit_code == 1 and body["code"] == 4000
    assert "reason is required" in body["message"]
    bad = run("stats", "fairness", "--from", "2026-12-01", "--to", "2026-11-01", "--json")
    assert json.loads(bad.output)["code"] == 4000


def test_lead_time_bands(run, tmp_path) -> None:
    add_entry(run, tmp_path, "Ana")
    opening = _opening(run)
    envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    data = envelope(run("stats", "lead-time", "--json"))
    assert data["configured"] is False
    bands = {b["band"]: b for b in data["bands"]}
    assert list(bands) == ["<24h", "24-72h", ">=72h"]
    assert bands[">=72h"]["openings"] == 1 and bands[">=72h"]["offers"] == 1  # Tue, 95 h
    assert bands["<24h"]["openings"] == bands["24-72h"]["openings"] == 0
    text = run("stats", "lead-time")
    assert text.exit_code == 0 and ">=72h" in text.output
    # the summary still answers without a subcommand
    assert envelope(run("stats", "--json"))["offers"]["sent"] == 1


def test_the_lead_time_rule_chooses_and_the_desk_can_overrule(run, tmp_path) -> None:
    from pathlib import Path

    from tests.cli.conftest import SETUP

    text = Path(SETUP).read_text(encoding="utf-8")
    rules = (
        '\n[[offer_rules]]\nfrom_hours = 24\nworkflow = "SEQUENTIAL"\nhold_minutes = 60\n'
        '[[offer_rules]]\nfrom_hours = 0\nto_hours = 24\nworkflow = "BROADCAST"\ntop = 3\n'
        'hold = "deadline"\n'
    )
    clinic_file = tmp_path / "clinic.toml"
    clinic_file.write_text(text + rules)
    assert run("setup", str(clinic_file)).exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(text + rules.replace("from_hours = 0", "from_hours = 2"))
    refused = json.loads(run("setup", str(bad), "--json").output)
    assert refused["code"] == 4000
    assert "offer_rules" in refused["message"]
    for name in ("Ana", "Ben", "Cy", "Di"):
        add_entry(run, tmp_path, name, date_range_start="2026-11-20")

    def today(time: str) -> dict:
        return envelope(
            run(
                "openings",
                "add",
                "--provider",
                "KIM",
                "--start",
                f"2026-11-20T{time}",
                "--minutes",
                "60",
                "--outside-hours",
                "--json",
            )
        )

    first = today("13:00")
    shown = envelope(run("openings", "show", first["id"], "--json"))
    assert shown["offer_terms"]["workflow"]["band"] == "<24h"
    assert len(envelope(run("offers", "send", "--opening", first["id"], "--json"))) == 3
    second = today("15:00")
    by_hand = envelope(run("offers", "send", "--opening", second["id"], "--sequential", "--json"))
    assert len(by_hand) == 1
    why = envelope(run("openings", "show", second["id"], "--why", "--json"))["why"]
    assert why["rankings"][0]["why_workflow"].endswith("SEQUENTIAL chosen by hand")


def test_why_names_the_hard_rules_and_the_report_splits_three_ways(run, tmp_path) -> None:
    add_entry(run, tmp_path, "Ana", priority=1, service="PT-FU")
    add_entry(run, tmp_path, "Eve", priority=2)  # PT-EVAL: 60 minutes
    add_entry(run, tmp_path, "Far", priority=3, service="PT-FU", date_range_start="2026-12-10")
    opening = _opening(run, minutes=30)
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    assert sent[0]["client"] == "Ana Cli"
    why = envelope(run("openings", "show", opening["id"][:8], "--why", "--json"))["why"]
    kept_out = [
        (r["client"], r["reasons"], r["detail"])
        for r in why["rankings"][0]["rows"]
        if r["rank"] is None
    ]
    assert kept_out == [
        ("Eve Cli", ["too_long"], "PT-EVAL takes 60 min, the slot is 30 min"),
        ("Far Cli", ["date_range"], "wants 10 Dec-15 Dec, the slot is 24 Nov"),
    ]
    text = run("openings", "show", opening["id"][:8], "--why")
    assert text.exit_code == 0, text.output
    assert "Eve Cli not offered: hard rule: PT-EVAL takes 60 min, the slot is 30 min" in (
        text.output
    )
    assert "Far Cli not offered: hard rule: wants 10 Dec-15 Dec, the slot is 24 Nov" in (
        text.output
    )
    report = envelope(run("stats", "fairness", "--json"))["wait_before_first_offer"]
    assert report["by_service"] == [{"key": "PT-FU", "entries": 1, "median_days": 0.0}]
    assert report["by_provider"] == [{"key": "KIM", "entries": 1, "median_days": 0.0}]
    shown = run("stats", "fairness").output
    assert shown.count("Wait before the first offer, by") == 3, shown
    for head, row in (("priority", "1 "), ("service", "PT-FU"), ("provider", "KIM")):
        lines = shown.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{head} ┃"))
        assert lines[at + 2].startswith(row), shown


def test_min_hours_between_offers_from_the_setup_file(run, tmp_path) -> None:
    setup = (ASSETS / "demo_clinic.toml").read_text()
    path = tmp_path / "clinic.toml"
    path.write_text(setup.replace("[clinic]\n", "[clinic]\nmin_hours_between_offers = 4\n", 1))
    assert run("setup", str(path)).exit_code == 0
    assert envelope(run("clinic", "show", "--json"))["min_hours_between_offers"] == 4
    ana = add_entry(run, tmp_path, "Ana", priority=1)
    add_entry(run, tmp_path, "Ben", priority=2)
    first = _opening(run)
    sent = envelope(run("offers", "send", "--opening", first["id"], "--json"))
    assert sent[0]["client"] == "Ana Cli"
    assert run("offers", "rescind", sent[0]["id"], "--json").exit_code == 0
    second = _opening(run, start="2026-11-24T11:00")
    refused = run("offers", "send", "--opening", second["id"], "--entry", ana, "--json")
    body = json.loads(refused.output)
    assert refused.exit_code == 1 and "the clinic waits 4h between offers" in body["message"]
    sent = envelope(run("offers", "send", "--opening", second["id"], "--json"))
    assert sent[0]["client"] == "Ben Cli"
    text = run("openings", "show", second["id"], "--why").output
    assert "#1 Ana Cli not offered: contacted too recently: offered 0 min ago" in text
    bad = tmp_path / "bad.toml"
    bad.write_text(setup.replace("[clinic]\n", "[clinic]\nmin_hours_between_offers = -2\n", 1))
    refused = run("setup", str(bad), "--json")
    assert "min_hours_between_offers must be a whole number of hours" in refused.output

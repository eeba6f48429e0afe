"""`waitlist-tui simulate`: the comparison as a table with its chart, and as JSON; a grid
makes one setting per combination; bad input is a 4000 naming the field."""

from __future__ import annotations

import json

from click.testing import CliRunner

from waitlist_tui.cli import main


def test_a_grid_on_the_demo_as_json_and_as_text(tmp_path, frozen) -> None:
    runner = CliRunner()
    args = ["--db", str(tmp_path / "unused.db"), "simulate", "--demo", "40", "--days", "1"]
    grid = ["--grid", "workflow=SEQUENTIAL,BROADCAST"]
    result = runner.invoke(main, [*args, *grid, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["data"]
    names = [s["name"] for s in data["settings"]]
    assert names == ["workflow=SEQUENTIAL", "workflow=BROADCAST"]
    assert not (tmp_path / "unused.db").exists()  # --demo never touches --db
    text = runner.invoke(main, [*args, *grid])
    assert text.exit_code == 0, text.output
    assert "filled" in text.output and "per fill" in text.output
    assert "fairness" in text.output


def test_a_bad_setting_is_refused(tmp_path, frozen) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[clinic]\ndefault_workflow = "SIDEWAYS"\n')
    result = CliRunner().invoke(
        main, ["--json", "simulate", "--demo", "10", "--settings", str(bad)]
    )
    assert result.exit_code != 0
    answer = json.loads(result.output)
    assert answer["code"] == 4000
    assert "default_workflow" in answer["message"]


def test_a_grid_with_and_without_the_clinics_offer_rules(tmp_path, frozen) -> None:
    """The demo clinic has offer rules by lead time, which choose the workflow of the openings
    they cover: `rules=none` takes them away for that setting, `rules=clinic` keeps them."""
    args = ["--db", str(tmp_path / "unused.db"), "simulate", "--demo", "40", "--days", "1"]
    grid = ["--grid", "workflow=BROADCAST", "--grid", "rules=none,clinic", "--json"]
    result = CliRunner().invoke(main, [*args, *grid])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output)["data"]["settings"]
    assert [s["name"] for s in settings] == [
        "workflow=BROADCAST rules=none",
        "workflow=BROADCAST rules=clinic",
    ]
    bad = CliRunner().invoke(main, [*args, "--grid", "rules=some", "--json"])
    assert bad.exit_code != 0 and "rules=none,clinic" in bad.output

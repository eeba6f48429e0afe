"""The CLI contract: JSON envelope, errors on stderr or as JSON with a non-zero exit."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from tests.cli.conftest import envelope
from tests.conftest import entry_payload
from waitlist_tui.cli import main
from waitlist_tui.cli.runtime import hoist_root_options

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_catalogue_commands(run) -> None:
    clinic = envelope(run("clinic", "show", "--json"))
    assert clinic["code"] == "HARBOUR" and clinic["max_span_days"] == 30
    services = envelope(run("--json", "services", "list"))
    assert {"id", "code", "name", "duration_minutes", "appointment_type"} <= set(
        services["items"][0]
    )
    providers = envelope(run("providers", "list", "--json"))
    kim = next(p for p in providers["items"] if p["code"] == "KIM")
    assert kim["services"] == ["PT-EVAL", "PT-FU"] and kim["hours"]["MONDAY"][0] == [
        "08:00",
        "12:00",
    ]
    assert "Dr. Alex Kim" in run("providers", "list").output


def test_entries_lifecycle_through_the_cli(run, tmp_path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(entry_payload()))
    added = envelope(run("entries", "add", "--json-file", str(path), "--json"))
    short = added["id"][:8]
    page = envelope(run("entries", "list", "--json", "--search", "doe"))
    assert page["total"] == 1 and page["items"][0]["id"] == added["id"]
    assert set(page) == {"items", "total", "limit", "offset"}
    shown = envelope(run("entries", "show", short, "--include-offers", "--json"))
    assert shown["matched_invites"] == [] and shown["client"]["phone"] == "+16175550142"
    patched = envelope(
        run(
            "entries",
            "update",
            short,
            "--json-file",
            "-",
            "--json",
            stdin=json.dumps({"priority": 1, "version": 1}),
        )
    )
    assert patched["priority"] == 1 and patched["updated_by"] == "maria"
    stale = run(
        "entries",
        "update",
        short,
        "--json-file",
        "-",
        "--json",
        stdin=json.dumps({"priority": 2, "version": 1}),
    )
    assert stale.exit_code == 1 and json.loads(stale.output)["code"] == 4090
    assert envelope(run("entries", "cancel", short, "--json"))["status"] == "cancelled"
    closed = run("entries", "cancel", short)
    assert closed.exit_code == 1 and "4090: waitlist request is closed" in closed.output
    assert "1–1 of 1" in run("entries", "list", "--status", "cancelled").output


def test_errors_as_json_and_on_stderr(run, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(entry_payload(date_range_start="2026-12-10", date_range_end="2026-12-01"))
    )
    result = run("entries", "add", "--json-file", str(bad), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "code": 4000,
        "message": "date_range_end must be on or after date_range_start",
        "data": None,
    }
    missing = run("entries", "show", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 1 and "4040: waitlist request not found" in missing.output
    assert envelope(run("entries", "list", "--json"))["total"] == 0


def test_a_database_that_cannot_be_opened_is_a_4000(tmp_path) -> None:
    """domain.session turns the driver's refusal into a domain error: the CLI catches no
    peewee error (it may not import peewee)."""
    result = CliRunner().invoke(main, ["--db", str(tmp_path), "clinic", "show", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["code"] == 4000
    assert body["message"].startswith(f"cannot open database {tmp_path}: ")


def test_add_a_list_is_all_or_nothing(run, tmp_path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps([entry_payload(), entry_payload(priority=9)]))
    result = run("entries", "add", "--json-file", str(path), "--json")
    assert json.loads(result.output)["message"].startswith("item 2: priority")
    assert envelope(run("entries", "list", "--json"))["total"] == 0


def test_export_import_and_clients(run, tmp_path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(entry_payload()))
    envelope(run("entries", "add", "--json-file", str(path), "--json"))
    out = tmp_path / "all.csv"
    assert run("export", "--format", "csv", "--out", str(out)).exit_code == 0
    assert out.read_text().startswith("id,status,first_name")
    imported = envelope(run("import", str(out), "--json"))
    assert (imported["added"], imported["skipped"]) == (0, 1)  # already here, by id
    clients = envelope(run("clients", "list", "--search", "jane", "--json"))
    assert clients["total"] == 1
    sample = envelope(run("import", str(ASSETS / "sample_entries.csv"), "--json"))
    assert sample["imported"] == sample["rows"] > 0


def test_an_exported_file_is_private_to_its_owner(run, tmp_path) -> None:
    """The export holds clients' names, phones and emails: 0600 whatever the umask."""
    out = tmp_path / "private.csv"
    old = os.umask(0o022)
    try:
        assert run("export", "--format", "csv", "--out", str(out)).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_import_twice_adds_nothing_twice_and_says_so(run, tmp_path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(entry_payload()))
    envelope(run("entries", "add", "--json-file", str(path), "--json"))
    out = tmp_path / "all.json"
    assert run("export", "--format", "json", "--out", str(out)).exit_code == 0
    rows = json.loads(out.read_text())
    rows[0]["notes"] = "changed in the file"
    out.write_text(json.dumps(rows))
    result = run("import", str(out))
    assert result.exit_code == 0
    assert "1 rows: 0 added, 0 updated, 1 already here (skipped), 0 invalid" in result.output
    updated = envelope(run("import", str(out), "--on-existing", "update", "--json"))
    assert (updated["added"], updated["updated"]) == (0, 1)
    assert envelope(run("entries", "list", "--json"))["items"][0]["notes"] == "changed in the file"
    assert envelope(run("entries", "list", "--json"))["total"] == 1
    bad = run("import", str(out), "--on-existing", "replace")
    assert bad.exit_code == 2  # click refuses the choice


def test_demo_without_tui(tmp_path, frozen) -> None:
    runner = CliRunner()
    db = str(tmp_path / "demo.db")
    result = runner.invoke(main, ["--db", db, "demo", "--entries", "50", "--no-tui", "--json"])
    data = envelope(result)
    assert data["built"] and data["rows"]["entry"] == 50
    # the stories played after the build (issue 22): a knock-on chain, a Saturday gap
    assert data["stories"] == {"knock_on": {"moved_up": 2, "chains": 1}, "saturday_entries": 5}
    again = envelope(runner.invoke(main, ["--db", db, "demo", "--no-tui", "--json"]))
    assert again["built"] is False  # today's demo is kept
    listed = envelope(runner.invoke(main, ["--db", db, "entries", "list", "--json"]))
    assert listed["total"] > 0


def test_the_readmes_first_commands_after_demo(frozen) -> None:
    """After `waitlist-tui demo` every command said "no clinic is set up": the CLI looked in
    the desk's own (empty) database. Until the desk sets up its own clinic, it uses the demo."""
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "--entries", "40", "--no-tui"]).exit_code == 0
    result = runner.invoke(main, ["clinic", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["code"] == "HARBOUR"  # stdout stays pure JSON
    assert "using the demo" in result.stderr
    assert envelope_of(runner.invoke(main, ["entries", "list", "--json"]))["total"] > 0
    own = runner.invoke(main, ["setup", str(ASSETS / "demo_clinic.toml"), "--json"])
    assert own.exit_code == 0 and "using the demo" not in own.stderr  # setup: the desk's own
    after = runner.invoke(main, ["entries", "list", "--json"])
    assert envelope_of(after)["total"] == 0 and "using the demo" not in after.stderr


def envelope_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["data"]


def test_root_options_after_the_command(tmp_path, frozen) -> None:
    """`demo --db URL` was refused: --db and --staff had to precede the command."""
    runner = CliRunner()
    db = str(tmp_path / "after.db")
    built = runner.invoke(main, ["demo", "--entries", "30", "--no-tui", "--db", db, "--json"])
    assert envelope_of(built)["db"] == db
    listed = runner.invoke(main, ["entries", "list", f"--db={db}", "--staff", "kai", "--json"])
    assert envelope_of(listed)["total"] > 0  # the demo it just built there
    assert hoist_root_options(["entries", "list", "--db", "x.db", "--staff=kai", "--json"]) == [
        "--db",
        "x.db",
        "--staff=kai",
        "entries",
        "list",
        "--json",
    ]
    assert hoist_root_options(["import", "f.csv", "--", "--db", "y"]) == [
        "import",
        "f.csv",
        "--",
        "--db",
        "y",
    ]  # after `--` words are the command's


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert (
        result.exit_code == 0
        and result.output == f"waitlist-tui, version {version('waitlist-tui')}\n"
    )


def test_demo_refuses_to_overwrite_a_real_clinic(tmp_path, frozen) -> None:
    runner = CliRunner()
    db = str(tmp_path / "real.db")
    assert (
        runner.invoke(main, ["--db", db, "setup", str(ASSETS / "demo_clinic.toml")]).exit_code == 0
    )
    result = runner.invoke(main, ["--db", db, "demo", "--no-tui"])
    assert result.exit_code == 1 and "--reset" in result.output


def test_python_dash_m_and_help() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "waitlist_tui", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in (
        "setup",
        "demo",
        "clinic",
        "services",
        "providers",
        "clients",
        "entries",
        "export",
        "import",
    ):
        assert command in out


def test_every_subcommand_loads_lazily() -> None:
    """Opening the app imports no subcommand module; each name resolves to its command."""
    import subprocess
    import sys

    import click

    from waitlist_tui.cli import COMMANDS

    probe = (
        "import sys, waitlist_tui.cli as c; "
        "print(sorted(m for m in sys.modules if m.startswith('waitlist_tui.cli.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for target in COMMANDS.values():
        assert f"waitlist_tui.cli.{target.split(':')[0]}'" not in loaded or target.startswith(
            "demo:"
        )
    with click.Context(main) as ctx:
        assert main.list_commands(ctx) == sorted(COMMANDS)
        for name in COMMANDS:
            command = main.get_command(ctx, name)
            assert isinstance(command, click.Command) and command.name == name


def test_a_subcommand_runs_with_garbage_collection_on(tmp_path) -> None:
    """The console script (launch.run) holds the collector off for the app's start only: a
    subcommand, which may run for hours (`outbox deliver --loop`), turns it back on."""
    import subprocess
    import sys

    probe = (
        "import gc, sys\n"
        "from waitlist_tui import launch\n"
        "from waitlist_tui.cli import catalog\n"
        "real = catalog.services_group.commands['list'].callback\n"
        "def seen(*a, **k):\n"
        "    print('collecting', gc.isenabled())\n"
        "    return real(*a, **k)\n"
        "catalog.services_group.commands['list'].callback = seen\n"
        f"sys.argv = ['waitlist-tui', '--db', {str(tmp_path / 'w.db')!r}, 'services', 'list']\n"
        "launch.run()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "collecting True" in done.stdout, done.stdout + done.stderr


def test_a_staff_name_and_reply_notes_are_checked_before_anything_is_written(run, tmp_path) -> None:
    """A 200-character --staff failed mid-write on PostgreSQL; a decline note kept terminal
    codes as typed."""
    long = run("--staff", "x" * 200, "clinic", "show", "--json")
    body = json.loads(long.output)
    assert long.exit_code == 1 and body["code"] == 4000
    assert body["message"] == "staff is longer than 120 characters"
    from tests.cli.conftest import add_entry

    add_entry(run, tmp_path, "Ann", "Note")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    (sent,) = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    for verb in ("decline", "rescind"):
        bad = run("offers", verb, sent["id"], "--note", "away\x1b[31m", "--json")
        assert json.loads(bad.output)["message"].startswith("note must not contain control")
    call = run(
        "offers", "attempt", sent["id"], "--outcome", "voicemail", "--note", "a\x07", "--json"
    )
    assert json.loads(call.output)["code"] == 4000
    assert envelope(run("offers", "list", "--json"))[0]["status"] == "sent"  # nothing changed


def test_progress_goes_to_stderr_and_never_into_the_json(run, tmp_path) -> None:
    """--progress on a non-terminal: click writes each phase's name to stderr once; stdout
    holds the envelope alone. Without it (stderr not a terminal) nothing is drawn."""
    sample = str(ASSETS / "sample_entries.csv")
    result = run("import", sample, "--progress", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["data"]["imported"] == body["data"]["rows"] > 0
    assert "checking" in result.stderr and "writing" in result.stderr
    out = run("export", "--format", "json", "--progress")
    assert json.loads(out.stdout)[0]["id"] and "exporting" in out.stderr
    quiet = run("export", "--format", "csv")
    assert quiet.stderr == ""

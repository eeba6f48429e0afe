"""`calendar import / sync / export / list` and `appointments add / list --from --to`, as a
script calls them, on both backends; feeds served over HTTP on 127.0.0.1 with ETags. The
`frozen` fixture (through `run`) holds the clock at Fri 20 Nov 2026 09:30 in New York."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest

from tests.cli.conftest import SETUP, add_entry, envelope
from tests.conftest import without_feeds
from tests.domain.calendar.test_sync import AWAY, CANCEL_30TH, MEETING, MOVE_7TH, SERIES, feed

TOKEN = "private-9f8e7d6c5b4a"


class Feed(http.server.BaseHTTPRequestHandler):
    """A calendar feed with an ETag: 304 when the client already has this version."""

    body = b""
    etag = '"v1"'
    hits: list[int] = []

    def do_GET(self) -> None:
        if self.headers.get("If-None-Match") == self.etag:
            Feed.hits.append(304)
            self.send_response(304)
            self.end_headers()
            return
        Feed.hits.append(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("ETag", self.etag)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Feed.hits, Feed.etag = [], '"v1"'
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{TOKEN}/kim.ics"
    httpd.shutdown()


def clinic_file(tmp_path: Path, source: str) -> Path:
    """The demo clinic file with a calendar for KIM."""
    text = without_feeds(Path(SETUP).read_text())
    marker = 'code = "KIM"\nname = "Dr. Alex Kim"\nservices = ["PT-EVAL", "PT-FU"]\n'
    assert marker in text
    calendars = f'[[providers.calendars]]\nsource = "{source}"\nmatch = {{ "follow" = "PT-FU" }}\n'
    path = tmp_path / "clinic.toml"
    path.write_text(text.replace(marker, marker + calendars))
    return path


def test_sync_a_file_source_named_in_the_clinic_file(run, tmp_path: Path) -> None:
    (tmp_path / "kim.ics").write_text(feed(SERIES, MEETING, AWAY))
    assert run("setup", str(clinic_file(tmp_path, "kim.ics"))).exit_code == 0
    first = envelope(run("calendar", "sync", "--json"))
    (row,) = first["synced"]
    assert (row["provider"], row["added"], row["cancelled"], first["failed"]) == ("KIM", 6, 0, [])
    assert envelope(run("calendar", "sync", "--json"))["synced"][0]["not_modified"]
    (tmp_path / "kim.ics").write_text(feed(SERIES, CANCEL_30TH, MOVE_7TH) + "\n")
    text = run("calendar", "sync")
    assert text.exit_code == 0, text.output
    assert (
        "KIM" in text.output
        and "1 updated, 3 cancelled, 2 unchanged, 2 openings created" in text.output
    )
    listed = envelope(run("calendar", "list", "--json"))
    assert listed[0]["source"].endswith("kim.ics") and listed[0]["error"] is None
    days = envelope(
        run("appointments", "list", "--from", "2026-11-23", "--to", "2026-11-30", "--json")
    )
    assert [(a["client"], a["service"], a["status"], a["source"]) for a in days] == [
        ("Follow-up - Ann", "PT-FU", "booked", "calendar"),
        ("Team meeting", "unknown", "cancelled", "calendar"),
        ("Conference", "unknown", "cancelled", "calendar"),
        ("Follow-up - Ann", "PT-FU", "cancelled", "calendar"),
    ]


def test_a_feed_over_http_with_etag_and_a_failing_one(run, tmp_path: Path, server: str) -> None:
    Feed.body = feed(SERIES).encode()
    assert run("setup", str(clinic_file(tmp_path, server))).exit_code == 0
    assert envelope(run("calendar", "sync", "--json"))["synced"][0]["added"] == 4
    assert envelope(run("calendar", "sync", "--json"))["synced"][0]["not_modified"]
    assert Feed.hits == [200, 304]
    # the feed turns into an HTML error page: refused whole, the source named without its token
    Feed.body, Feed.etag = b"<html>maintenance</html>", '"v2"'
    failed = run("calendar", "sync", "--json")
    assert failed.exit_code == 1
    body = json.loads(failed.output)["data"]
    assert body["failed"][0]["error"] == (
        f"calendar http://127.0.0.1:{server.split(':')[2].split('/')[0]}/…/kim.ics: "
        "is not iCalendar (it does not begin with BEGIN:VCALENDAR)"
    )
    assert TOKEN not in failed.output
    listed = envelope(run("calendar", "list", "--json"))
    assert listed[0]["failed_at"] and TOKEN not in json.dumps(listed)
    days = envelope(
        run("appointments", "list", "--from", "2026-11-23", "--to", "2026-12-31", "--json")
    )
    assert len([a for a in days if a["status"] == "booked"]) == 4  # nothing changed


def test_import_a_file_once_and_again(run, tmp_path: Path) -> None:
    path = tmp_path / "outlook.ics"
    path.write_text(feed(SERIES, MEETING))
    first = envelope(run("calendar", "import", str(path), "--provider", "KIM", "--json"))
    assert (first["added"], first["unchanged"]) == (5, 0)
    again = envelope(run("calendar", "import", str(path), "--provider", "KIM", "--json"))
    assert again["not_modified"] and again["added"] == 0  # the same bytes: not parsed again
    path.write_text(feed(SERIES, MEETING) + "\n")
    changed = envelope(run("calendar", "import", str(path), "--provider", "KIM", "--json"))
    assert (changed["added"], changed["unchanged"]) == (0, 5)
    bad = tmp_path / "bad.ics"
    bad.write_bytes(
        b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    refused = run("calendar", "import", str(bad), "--provider", "KIM", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.output)["code"] == 4220
    assert "bad.ics: an event has no DTSTART (UID x, line 3)" in refused.output


def test_book_directly_then_export_and_read_back(run, tmp_path: Path) -> None:
    entry = envelope(run("entries", "show", add_entry(run, tmp_path, "Ola"), "--json"))
    client = entry["client"]["id"]
    booked = envelope(
        run(
            "appointments",
            "add",
            "--client",
            client[:8],
            "--provider",
            "KIM",
            "--service",
            "PT-FU",
            "--start",
            "2026-11-24T09:00",
            "--json",
        )
    )
    assert (booked["provider"], booked["service"], booked["start"]) == (
        "KIM",
        "PT-FU",
        "2026-11-24T14:00:00Z",
    )
    clash = run(
        "appointments",
        "add",
        "--client",
        client,
        "--provider",
        "KIM",
        "--service",
        "PT-FU",
        "--start",
        "2026-11-24T09:15",
        "--json",
    )
    assert (
        json.loads(clash.output)["code"] == 4090
        and "KIM is booked from Tue 24 Nov 09:00" in clash.output
    )
    # an accepted offer is a waitlist booking: the export holds it
    opening = envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            "2026-11-25T09:00",
            "--minutes",
            "60",
            "--service",
            "PT-EVAL",
            "--json",
        )
    )
    sent = envelope(
        run("offers", "send", "--opening", opening["id"], "--entry", entry["id"], "--json")
    )
    envelope(run("offers", "accept", sent[0]["id"], "--json"))
    out = tmp_path / "kim-export.ics"
    done = run("calendar", "export", "--provider", "KIM", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    events = icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Physiotherapy assessment - Ola Cli"]
    # and it round-trips through import as the same time
    back = envelope(run("calendar", "import", str(out), "--provider", "PATEL", "--json"))
    assert back["added"] == 1

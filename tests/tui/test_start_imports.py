"""The app's start to its first queue page imports what that page needs and nothing else.

Each module below cost the start time when it was imported there (the calendar sync and its
HTTP client ~40 ms; the libraries more) and is loaded later, when a screen or a timer needs
it, or by the warm-up once the queue is painted (app.warm_up). A new top-level import that
pulls one of them back in fails here, in a fresh interpreter (this test session imported
everything long ago). No timing: the bench measures that (start_to_paint_ms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Not imported before the queue is painted.
DEFERRED = (
    "waitlist_tui.domain.calendar.sync",  # the queue asks calendar.freshness only
    "urllib.request",  # calendar.fetch imports it when a feed is fetched
    "http.client",
    "icalendar",
    "recurring_ical_events",
    "phonenumbers",
    "email_validator",
    "argon2",
    "twilio",
    "vonage",
    "babel",
    "tomlkit",
    "aiohttp",
    "plotext",
    "textual_plotext",
    "psycopg2",  # a SQLite desk never loads the PostgreSQL driver
    "waitlist_tui.domain.stats",
    "waitlist_tui.domain.whatif",
    "waitlist_tui.domain.fill.slot_offers",
    "waitlist_tui.tui.screens.dashboard",
    "waitlist_tui.tui.screens.finder",
)

# The console script's path (launch.run -> cli main -> open_tui), headless: no terminal here.
START = """
import json, sys
from functools import partialmethod

from textual.app import App

App.run = partialmethod(App.run, headless=True, size=(120, 36))
from waitlist_tui.launch import run

watched = sys.argv[2].split(",")
sys.argv = ["waitlist-tui", "--db", sys.argv[1]]
try:
    run()
except SystemExit as done:
    code = done.code
print(json.dumps({
    "code": code,
    "queue": "waitlist_tui.tui.screens.queue" in sys.modules,
    "loaded": sorted(m for m in watched if m in sys.modules),
}))
"""


def test_the_start_to_the_queue_loads_none_of_the_deferred_modules(tmp_path: Path) -> None:
    env = {**os.environ, "WAITLIST_TUI_EXIT_WHEN_READY": "1"}  # quits once the queue is up
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(START),
            str(tmp_path / "desk.db"),
            ",".join(DEFERRED),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None) and result["queue"]
    assert result["loaded"] == []

"""The desk in a real browser: Debian's headless Chromium driven by Playwright for Python.

Log in (a wrong password first), see the queue, press a key the desk handles, log out; the
desk's websocket refused without a session. xterm.js draws the desk on a canvas, so what the
desk shows is read from the websocket's frames (the terminal output, ANSI codes stripped),
and screenshots are taken: set WAITLIST_SCREENSHOTS=assets/screenshots to refresh the
README's. Skipped, saying why, where chromium or playwright is missing (.ci/run installs
both from the package registries: apt's chromium, pip's playwright; never `playwright
install`)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("WAITLIST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
STAFF = "Maria Lopez"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(autouse=True)
def _browser_needed() -> None:
    """Skipped, saying why, without a browser; a failure instead with WAITLIST_TEST_BROWSER=1
    (as WAITLIST_TEST_PG does for PostgreSQL), so that CI cannot pass by skipping it."""
    why = _missing()
    if why and os.environ.get("WAITLIST_TEST_BROWSER") == "1":
        pytest.fail(f"WAITLIST_TEST_BROWSER=1 but {why}")
    if why:
        pytest.skip(why)


ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "waitlist_tui", *args],
        input=stdin,
        text=True,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, _browser_needed: None):
    """A demo clinic served on a free port, with one manager account; the server's URL."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    db = str(tmp_path / "desk.db")
    _cli(env, "--db", db, "--staff", "admin", "demo", "--no-tui", "--entries", "40")
    _cli(env, "--db", db, "--staff", "admin", "staff", "add", STAFF, "--role", "manager",
         "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "waitlist_tui", "--db", db, "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    SERVED[url] = Path(db)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((tmp_path / "serve.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def served_db(url: str) -> Path:
    return SERVED[url]


SERVED: dict[str, Path] = {}


def _audit_actor(db: Path, action: str, seconds: float = 20) -> str | None:
    """Who the audit trail says did `action` (waited for: the desk process writes it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(db)) as con:
            row = con.execute(
                "SELECT actor FROM audit_event WHERE action = ? ORDER BY id DESC", (action,)
            ).fetchone()
        if row:
            return str(row[0])
        time.sleep(0.2)
    return None


class Screen:
    """What the desk sent the browser, as text."""

    def __init__(self, page) -> None:
        self.page = page
        self.frames: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def text(self, since: int = 0) -> str:
        return ANSI.sub(b"", b"".join(self.frames[since:])).decode("utf-8", "replace")

    def wait_for(self, words: str, since: int = 0, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while words not in self.text(since):
            if time.monotonic() > deadline:
                raise AssertionError(f"{words!r} never shown; last: {self.text(since)[-1500:]!r}")
            self.page.wait_for_timeout(200)  # Playwright delivers events while it waits


def test_staff_log_in_use_the_desk_and_log_out(served: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("WAITLIST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            screen = Screen(page)

            page.goto(f"{served}/")
            assert page.url == f"{served}/login"  # no desk without a login
            page.fill("#name", STAFF)
            page.screenshot(path=str(shots / "login.png"))
            page.fill("#password", "not the password")
            page.click("button[type=submit]")
            assert "wrong name or password" in page.inner_text("#message")
            assert page.url == f"{served}/login"

            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{served}/")
            assert page.inner_text("#who") == f"{STAFF} (manager)"
            screen.wait_for("waiting + offered")  # the queue's summary line

            before = len(screen.frames)
            page.locator(".xterm-helper-textarea").focus()
            page.keyboard.press("t")  # the queue's key for the offers waiting for a reply
            screen.wait_for("Accept", since=before)
            before = len(screen.frames)
            page.keyboard.press("Escape")  # back to the queue
            screen.wait_for("waiting + offered", since=before)
            page.wait_for_timeout(1000)  # let the frames settle for the picture
            page.screenshot(path=str(shots / "desk.png"))

            before = len(screen.frames)
            page.keyboard.press("x")  # cancel the cursor entry: a write from the browser
            screen.wait_for("Cancel the waitlist entry of", since=before)
            page.keyboard.type("booked elsewhere")
            page.keyboard.press("Enter")
            assert _audit_actor(served_db(served), "entry.cancelled") == STAFF

            other = browser.new_context()  # no session cookie: the websocket is refused
            assert other.request.get(f"{served}/ws").status == 401
            assert other.request.get(f"{served}/", max_redirects=0).status == 303
            other.close()

            page.click("#logout")
            page.wait_for_url(f"{served}/login")
            page.goto(f"{served}/")
            assert page.url == f"{served}/login"
        finally:
            browser.close()


def _code_sent(db: Path, confirm_id: str) -> str:
    """The 6-digit code in the outbox message the /join page queued (what the SMS says)."""
    with closing(sqlite3.connect(db)) as con:
        row = con.execute(
            "SELECT body FROM outbox_message WHERE ref_type = 'join_code' AND ref_id = ?",
            (confirm_id,),
        ).fetchone()
    assert row, "no code message queued"
    found = re.search(r"\b(\d{6})\b", row[0])
    assert found, row[0]
    return found.group(1)


def test_a_client_joins_confirms_by_code_and_the_desk_sees_it(served: str, tmp_path: Path) -> None:
    import datetime as dt

    shots = Path(os.environ.get("WAITLIST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    today = dt.date.today()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            client = browser.new_page(viewport={"width": 412, "height": 1400})  # a phone
            client.goto(f"{served}/join")
            client.select_option("#service", index=1)
            client.fill("#date_range_start", (today + dt.timedelta(days=1)).isoformat())
            client.fill("#date_range_end", (today + dt.timedelta(days=21)).isoformat())
            client.check("input[name=preferred_days][value=TUESDAY]")
            client.check("input[name=preferred_time_slots][value=MORNING]")
            client.fill("#first_name", "Zora")
            client.fill("#last_name", "Hurston")
            client.fill("#phone", "(617) 555-0199")
            client.check("input[name=consent_sms]")
            client.screenshot(path=str(shots / "join.png"), full_page=True)
            client.click("button[type=submit]")
            client.wait_for_url(re.compile(r".*/join/confirm\?id=.*"))
            confirm_id = client.url.split("id=")[1]
            client.fill("#code", _code_sent(served_db(served), confirm_id))
            client.click("button[type=submit]")
            assert "You are on the waitlist" in client.inner_text("h1")

            page = browser.new_page(viewport={"width": 1280, "height": 800})
            screen = Screen(page)
            page.goto(f"{served}/login")
            page.fill("#name", STAFF)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{served}/")
            screen.wait_for("waiting + offered")
            page.locator(".xterm-helper-textarea").focus()
            for attempt in range(3):  # a key pressed before the desk listens is lost: again
                page.wait_for_timeout(1000)
                before = len(screen.frames)
                page.keyboard.press("/")  # the queue's search
                page.wait_for_timeout(500)
                page.keyboard.type("Hurston", delay=50)
                page.keyboard.press("Enter")
                try:
                    screen.wait_for("self-joined online", since=before, seconds=10)
                    break  # the detail pane's mark
                except AssertionError:
                    if attempt == 2:
                        raise
                    page.keyboard.press("Escape")
                    page.keyboard.press("Escape")
            assert "Hurston" in screen.text(before)
        finally:
            browser.close()


def _a_client_waiting(db: Path) -> tuple[str, str]:
    """A client with a waiting entry: their full name (what the search is typed with) and
    their phone as the desk shows it (+1 617-555-0101)."""
    with closing(sqlite3.connect(db)) as con:
        row = con.execute(
            "SELECT c.first_name || ' ' || c.last_name, c.phone FROM entry e "
            "JOIN client c ON c.id = e.client_id "
            "WHERE e.status = 'waiting' AND c.phone LIKE '+1%' ORDER BY e.created_at LIMIT 1"
        ).fetchone()
    assert row
    digits = str(row[1])
    return str(row[0]), f"+1 {digits[2:5]}-{digits[5:8]}-{digits[8:]}"


def _free_hour_next_monday(db: Path) -> str:
    """A free hour of KIM's next Monday (the finder's `mon`), as the slot bar takes it
    (HHMM): within KIM's hours in the demo clinic and clear of every booked appointment."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    with closing(sqlite3.connect(db)) as con:
        (zone,) = con.execute("SELECT time_zone FROM clinic").fetchone()
        tz = ZoneInfo(zone)
        # The server's today, not this process's (--clock-at moves only the tests' clock):
        # the newest audit row, written by the CLI that made the staff account just now.
        (newest,) = con.execute("SELECT MAX(at) FROM audit_event").fetchone()
        today = dt.datetime.fromisoformat(newest).replace(tzinfo=dt.UTC).astimezone(tz).date()
        monday = today + dt.timedelta(days=(7 - today.weekday()) or 7)
        booked = [
            (dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC),
             dt.datetime.fromisoformat(e).replace(tzinfo=dt.UTC))
            for s, e in con.execute(
                "SELECT a.starts_at, a.ends_at FROM appointment a "
                "JOIN provider p ON p.id = a.provider_id "
                "WHERE p.code = 'KIM' AND a.status = 'booked' AND a.starts_at BETWEEN ? AND ?",
                (str(monday - dt.timedelta(days=1)), str(monday + dt.timedelta(days=2))),
            )
        ]  # fmt: skip
    for hour, minute in [(h, m) for h in (8, 9, 10, 11, 13, 14, 15, 16) for m in (0, 30)]:
        start = dt.datetime.combine(monday, dt.time(hour, minute), tz)
        end = start + dt.timedelta(hours=1)
        if ((hour < 12 and end.hour > 12) or (end.hour == 12 and end.minute)) or end.hour > 17:
            continue
        if end.hour == 17 and end.minute:
            continue
        if all(end <= s or start >= e for s, e in booked):
            return f"{hour:02d}{minute:02d}"
    raise AssertionError(f"KIM has no free hour on {monday}")


def _offers_by(db: Path, staff: str, seconds: float) -> list[tuple[str, str]]:
    """The offers written by `staff` (the offer row's and its audit row's actor), waited for."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(db)) as con:
            rows = con.execute(
                "SELECT id, status FROM offer WHERE created_by = ?", (staff,)
            ).fetchall()
            audited = {
                str(r[0]).replace("-", "")
                for r in con.execute(
                    "SELECT object_id FROM audit_event WHERE action = 'offer.send' AND actor = ?",
                    (staff,),
                )
            }
        if rows:
            assert {str(i).replace("-", "") for i, _ in rows} <= audited, (rows, audited)
            return [(str(i), str(s)) for i, s in rows]
        time.sleep(0.2)
    return []


def test_the_desk_searches_opens_the_finder_and_sends_an_offer(served: str) -> None:
    """The desk's own keys in the browser: the queue's search, the match finder with a typed
    slot, an offer sent; the offer is in the database in the login's name. The manager's
    audit key works (the login's role reached the desk)."""
    db = served_db(served)
    name, phone = _a_client_waiting(db)
    at = _free_hour_next_monday(db)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            screen = Screen(page)
            page.goto(f"{served}/login")
            page.fill("#name", STAFF)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{served}/")
            screen.wait_for("waiting + offered")
            page.locator(".xterm-helper-textarea").focus()
            for attempt in range(3):  # a key pressed before the desk listens is lost: again
                page.wait_for_timeout(1000)
                before = len(screen.frames)
                page.keyboard.press("/")  # the queue's search
                page.wait_for_timeout(300)
                page.keyboard.type(name, delay=50)
                try:
                    screen.wait_for(phone, since=before, seconds=10)  # their row, found
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
                    page.keyboard.press("Escape")
            assert name in screen.text(before)  # typed in the search box
            # enter: from the search to the list (not escape: an escape and the next key read
            # together, as a busy desk may, are alt+key)
            page.keyboard.press("Enter")
            page.wait_for_timeout(500)

            before = len(screen.frames)
            page.keyboard.press("m")  # the match finder
            screen.wait_for("Match finder", since=before)
            page.keyboard.press("f")  # a typed slot: provider, date, time
            page.wait_for_timeout(300)
            page.keyboard.press("Enter")  # the provider list opens
            page.wait_for_timeout(300)
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")  # KIM, the first
            page.wait_for_timeout(300)
            page.keyboard.press("Tab")
            page.keyboard.type("mon", delay=30)
            page.keyboard.press("Tab")
            page.keyboard.type(at, delay=30)
            before = len(screen.frames)
            page.keyboard.press("Enter")
            screen.wait_for("candidates", since=before)
            offers: list[tuple[str, str]] = []
            for _ in range(3):  # a busy desk may not have moved to the candidates yet: again
                page.wait_for_timeout(1000)
                page.keyboard.press("Enter")  # offer the slot to the best candidate
                offers = _offers_by(db, STAFF, seconds=10)
                if offers:
                    break
            assert offers and offers[0][1] == "sent", offers

            before = len(screen.frames)
            page.keyboard.press("Escape")  # back to the queue
            screen.wait_for("waiting + offered", since=before)  # the escape read on its own
            page.wait_for_timeout(500)
            before = len(screen.frames)
            page.keyboard.press("A")  # the manager's audit trail
            screen.wait_for("Audit trail", since=before)
            screen.wait_for("offer.send", since=before)
        finally:
            browser.close()

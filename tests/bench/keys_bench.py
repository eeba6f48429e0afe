"""Key press to repainted screen, as the desk feels it: the real app on a pseudo-terminal.

search_key_ms: the queue is open on the bench database; `/` focuses the search, then each
character of a text is written to the terminal one at a time, and the clock stops when the
queue's summary line for that prefix (`matching "gar"`) comes back out of the terminal,
that is, once the page of results for the text so far has been queried and painted. Each
keystroke waits for its own repaint, so a figure is one keystroke's latency, not a burst's.
Texts: a last name and the last four digits of a phone, as typed at the desk.

finder_key_ms: the match finder (`m`) on a slot typed in (`f`, the first provider, in three
days at 06:00, before anyone's hours); then, again and again, the minutes are changed (60,
45) and `enter` pressed: each enter ranks the candidates for the slot over every waiting entry
and repaints the list. The clock runs from the enter to the slot's new status line ("(45
min)") out of the terminal. finder_partial_ms: `p`, hiding and showing PARTIAL matches of
the list on screen (no query).
"""

from __future__ import annotations

import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from fcntl import ioctl
from typing import Any

KEY_TIMEOUT_S = 10.0
PAINTED = b"by priority, then longest wait"
KEY_TARGETS = {"search_key_ms": 50, "finder_key_ms": 60}  # issue 18
FINDER_PRESSES = 20


class PtyApp:
    """`python -m waitlist_tui --db PATH` on a 120x36 pseudo-terminal; output is read and kept
    only as far as the marker being waited for."""

    def __init__(self, path: str, size: tuple[int, int] = (120, 36)) -> None:
        self.master, slave = pty.openpty()
        columns, rows = size
        ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waitlist_tui", "--db", path],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()

    def wait_for(self, marker: bytes, timeout: float = KEY_TIMEOUT_S) -> float:
        """Seconds until `marker` comes out of the terminal; the output before it is dropped."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if select.select([self.master], [], [], 0.2)[0]:
                self.output += os.read(self.master, 65536)
                found = self.output.find(marker)
                if found >= 0:
                    del self.output[: found + len(marker)]
                    return time.perf_counter() - start
        tail = self.output.decode("utf-8", "replace")[-1500:]
        raise SystemExit(f"bench: {marker!r} never reached the terminal; last output:\n{tail}")

    def press(self, key: bytes, marker: bytes) -> float:
        """Milliseconds from writing `key` to `marker` painted."""
        self.output.clear()
        start = time.perf_counter()
        os.write(self.master, key)
        self.wait_for(marker)
        return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def type_and_time(path: str, texts: list[str]) -> list[float]:
    app = PtyApp(path)
    try:
        app.wait_for(PAINTED, timeout=60)
        time.sleep(0.5)  # let the first refresh and the warm-up settle, as a person would
        app.press(b"/", b"")  # focus the search box (the focus moves after the key is handled)
        time.sleep(0.3)
        figures = []
        for text in texts:
            for index in range(1, len(text) + 1):
                marker = f'matching "{text[:index]}"'.encode()
                figures.append(app.press(text[index - 1].encode(), marker))
            for _ in text:  # clear the box again, each deletion waits for its page too
                app.press(b"\x7f", b"waiting + offered")
        return figures
    finally:
        app.close()


def bench_search_keys(bench: Any) -> dict[str, Any]:
    from bench import search_texts, stats

    chosen = search_texts()
    texts = [chosen["last_name"], chosen["phone_last4"]]
    runs = [type_and_time(bench.path, texts) for _ in range(bench.runs)]
    per_run = [statistics.median(r) for r in runs]
    pooled = [f for r in runs for f in r]
    return {
        "search_key_ms": stats(per_run),
        "search_key_all_ms": {**stats(pooled), "keystrokes": len(pooled), "texts": texts},
    }


def finder_presses(path: str) -> list[float]:
    app = PtyApp(path)
    try:
        app.wait_for(PAINTED, timeout=60)
        time.sleep(0.5)
        app.press(b"m", b"Calendar")
        time.sleep(0.5)
        for key in (b"f", b"\r", b"\x1b[B", b"\r", b"\t", b"+3d", b"\t", b"600"):
            os.write(app.master, key)
            time.sleep(0.4)
        shown = app.press(b"\r", b"PARTIAL shown")
        time.sleep(0.3)
        figures = []
        for index in range(FINDER_PRESSES):
            minutes = b"45" if index % 2 == 0 else b"60"
            for key in (b"\x1b[Z", b"\x7f\x7f", minutes):  # shift+tab to the minutes
                os.write(app.master, key)
                time.sleep(0.1)
            figures.append(app.press(b"\r", b"(" + minutes + b" min)"))
            time.sleep(0.1)
        partial = []
        for index in range(FINDER_PRESSES):
            marker = b"EXACT only" if index % 2 == 0 else b"PARTIAL shown"
            partial.append(app.press(b"p", marker))
        return [shown, statistics.median(partial), *figures]
    finally:
        app.close()


def bench_finder_keys(bench: Any) -> dict[str, Any]:
    from bench import stats

    runs = [finder_presses(bench.path) for _ in range(bench.runs)]
    return {
        "finder_key_ms": stats([statistics.median(r[2:]) for r in runs]),
        "finder_first_list_ms": stats([r[0] for r in runs]),
        "finder_partial_ms": stats([r[1] for r in runs]),
    }


KEY_BENCHMARKS = {"search_keys": bench_search_keys, "finder_keys": bench_finder_keys}

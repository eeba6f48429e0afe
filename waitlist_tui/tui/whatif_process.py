"""The what-if simulation run for the app: `waitlist-tui simulate` in a process of its own.

Why a process: a simulation binds the models to its scratch copy and moves its own clock
for seconds at a time; in a thread of the app it would take the desk's database from under
every other screen. The child reads the live database only to copy it, reports progress as
JSON lines on stderr and its result as the CLI's JSON envelope on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitlist_tui.config import config_dir
from waitlist_tui.domain import assets
from waitlist_tui.domain.errors import DomainError, ValidationError

Progress = Callable[[float], None]
SETTINGS_DIR = "whatif"  # the desk's own settings files: <config dir>/whatif/*.toml


def settings_files() -> list[Path]:
    """The settings files a manager can choose: the shipped examples and their own."""
    shipped = sorted(assets.directory().glob("whatif_*.toml"))
    shipped = [p for p in shipped if p.name != "whatif_model.toml"]
    own = sorted((config_dir() / SETTINGS_DIR).glob("*.toml"))
    return [*shipped, *own]


def run_simulation(
    db_url: str, files: list[str], days: int, seed: int, progress: Progress
) -> dict[str, Any]:
    """The comparison's data (compare.Comparison.to_dict()), progress reported as it goes."""
    command = [sys.executable, "-m", "waitlist_tui", "--json"]
    if db_url:
        command += ["--db", db_url]
    command += ["simulate", "--days", str(days), "--seed", str(seed), "--progress"]
    for name in files:
        command += ["--settings", name]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )
    assert child.stderr is not None and child.stdout is not None
    said = []
    done: dict[int, float] = {}  # settings run side by side: each one's own fraction
    for line in child.stderr:
        try:
            step = json.loads(line)
            done[int(step["setting"])] = float(step["done"])
            progress(sum(done.values()) / step["of"])
        except (ValueError, KeyError, TypeError):
            said.append(line)
    out = child.stdout.read()
    child.wait()
    try:
        answer = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except ValueError:
        answer = {}
    if answer.get("code") == 2000:
        data: dict[str, Any] = answer["data"]
        return data
    if "message" in answer:
        raise DomainError(str(answer["message"]))
    raise ValidationError(("".join(said) or "the simulation stopped").strip()[-300:])

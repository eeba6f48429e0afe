"""A progress bar on stderr for long commands (import, export): click's own, shown when stderr
is a terminal or when `--progress` asks (off a terminal click writes each phase's name once,
no bar); never on stdout, so `--json` and an export to stdout stay clean."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

import click

PHASES = {"check": "checking", "write": "writing ", "export": "exporting"}


def wanted(flag: bool | None) -> bool:
    """--progress / --no-progress, else whether stderr is a terminal."""
    return flag if flag is not None else sys.stderr.isatty()


class Bars:
    """A callback (phase, done, total) that keeps one click progress bar per phase."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: AbstractContextManager[Any] | None = None
        self.shown = 0
        self.handle: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase, self.shown = phase, 0
            self.bar = click.progressbar(
                length=max(total, 1), label=PHASES.get(phase, phase), file=sys.stderr
            )
            self.handle = self.bar.__enter__()
        step = min(done, total) - self.shown
        if step > 0:
            self.handle.update(step)
            self.shown += step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

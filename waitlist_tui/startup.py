"""Garbage collection held off while a process starts: what the app and the CLI call once
they are up. No imports of the package, so that anything may call it (launch.py starts it)."""

from __future__ import annotations

import gc


def started() -> None:
    """The app is up (or a subcommand runs): collect garbage as usual from here on. What
    start-up made is frozen first (modules, classes, styles: it lives as long as the process),
    or the first collection would walk all of it at once (~20 ms, with the page on its way
    to the screen)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()

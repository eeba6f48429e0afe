"""At 80 columns a screen drops its least needed footer keys and table columns, so that
nothing is cut off; the keys still work and the help screen and palette list them."""

from __future__ import annotations

from dataclasses import replace

from textual.screen import Screen

from waitlist_tui.tui.widgets.footer import Footer

NARROW_WIDTH = 100


def fit_footer(screen: Screen, narrow: bool, hidden_ids: set[str]) -> None:
    bindings = screen._bindings.key_to_bindings
    for key, found in bindings.items():
        bindings[key] = [replace(b, show=not narrow) if b.id in hidden_ids else b for b in found]
    screen.query_one(Footer).show_command_palette = not narrow
    screen.refresh_bindings()

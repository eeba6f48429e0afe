"""Updating a Static without laying the whole screen out again when its height stays."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def update_static(widget: Static, content: Text | str, keep_height: bool = False) -> None:
    """`widget.update(content)`, laying the screen out again only when the new text needs
    another number of lines: a layout repaints the whole screen, and the status and "why"
    lines change on every search and every cursor move while their height rarely does.

    `keep_height`: a text needing fewer lines is painted in the lines the widget has, the
    rest left blank, for a short-lived text that the next one replaces (the finder's
    "Looking for candidates…" between two two-line status lines: shrinking to one line and
    growing back laid the screen out twice per search, the first time on the event loop in
    the middle of the search, whose thread it slowed)."""
    width = widget.content_size.width
    cap = widget.styles.max_height
    if not widget.is_mounted or width <= 0 or (cap is not None and not cap.is_cells):
        widget.update(content)
        return
    before = widget.content_size.height
    widget.update(content, layout=False)
    needed = widget.get_content_height(widget.size, widget.app.size, width)
    if cap is not None:
        needed = min(needed, int(cap.value))
    if needed > before or (needed < before and not keep_height):
        widget.refresh(layout=True)

"""The dashboard's figure cards, drawn as one widget (Textual's Line API).

Eleven cards as eleven widgets cost a restyle and a layout pass each time the screen comes
back; one widget painting its lines from plain values costs a few strips. The cards sit in a
grid of `COLUMNS` columns, one cell apart; each is two lines (value, label) on a raised
background, one line apart when the widget is tall enough for it (the compact layout packs
them). A card's tooltip follows the mouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import floor

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

COLUMNS = 6
GUTTER = 1  # cells between two cards


class FigureCards(Widget):
    """Cards of (value, label); `show` sets the values, `stale` dims them while re-reading."""

    COMPONENT_CLASSES = {"figure-cards--card"}
    DEFAULT_CSS = """
    FigureCards {
        height: 5;
        padding: 0 1;
    }
    FigureCards > .figure-cards--card {
        background: $boost;
    }
    """

    def __init__(
        self,
        cards: Sequence[tuple[str, str]],
        placeholder: str,
        tips: dict[str, str] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        """`cards`: (card id, label) in reading order."""
        super().__init__(id=id)
        self.cards = list(cards)
        self.placeholder = placeholder
        self.tips = tips or {}
        self.values: dict[str, str] = {card_id: placeholder for card_id, _ in self.cards}
        self.stale = False

    # --- data ---------------------------------------------------------------------------------

    def show(self, values: dict[str, str] | None, stale: bool = False) -> None:
        """New values (None: placeholders); `stale` dims them (figures being read again)."""
        if values is None:
            values = {card_id: self.placeholder for card_id, _ in self.cards}
        if values == self.values and stale == self.stale:
            return
        self.values, self.stale = dict(values), stale
        self.refresh()

    def value_of(self, card_id: str) -> str:
        return self.values[card_id]

    # --- geometry -----------------------------------------------------------------------------

    @property
    def gutter_rows(self) -> int:
        """One blank line between rows of cards when there is room for it."""
        rows = -(-len(self.cards) // COLUMNS)
        return 1 if self.content_size.height >= rows * 2 + (rows - 1) else 0

    def column_spans(self, width: int) -> list[tuple[int, int]]:
        """(start, width) of each column, cut as Textual cuts a grid of 1fr columns."""
        unit = Fraction(max(width - GUTTER * (COLUMNS - 1), COLUMNS), COLUMNS)
        spans = []
        for i in range(COLUMNS):
            start = i * (unit + GUTTER)
            spans.append((floor(start), floor(start + unit) - floor(start)))
        return spans

    def card_at(self, x: int, y: int) -> str | None:
        """The id of the card under content offset (x, y), if any."""
        pitch = 2 + self.gutter_rows
        row, line = divmod(y, pitch)
        if line >= 2:
            return None
        for column, (start, span) in enumerate(self.column_spans(self.content_size.width)):
            if start <= x < start + span:
                index = row * COLUMNS + column
                return self.cards[index][0] if index < len(self.cards) else None
        return None

    # --- painting -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        base = self.rich_style
        pitch = 2 + self.gutter_rows
        row, line = divmod(y, pitch)
        first = row * COLUMNS
        if line >= 2 or first >= len(self.cards):
            return Strip.blank(width, base)
        card = self.get_component_rich_style("figure-cards--card")
        if line == 0:
            text_style = card + Style(bold=True, dim=self.stale)
        else:
            text_style = card + Style(bold=True, dim=True)
        segments: list[Segment] = []
        at = 0
        for column, (start, span) in enumerate(self.column_spans(width)):
            if start > at:
                segments.append(Segment(" " * (start - at), base))
            index = first + column
            if index < len(self.cards):
                card_id, label = self.cards[index]
                text = self.values[card_id] if line == 0 else label
                text = text[: max(span - 2, 0)]
                segments.append(Segment(" ", card))
                segments.append(Segment(text, text_style))
                segments.append(Segment(" " * max(span - 1 - len(text), 0), card))
            else:
                segments.append(Segment(" " * span, base))
            at = start + span
        if at < width:
            segments.append(Segment(" " * (width - at), base))
        return Strip(segments, width).crop(0, width)

    # --- tooltips -----------------------------------------------------------------------------

    def on_mouse_move(self, event: events.MouseMove) -> None:
        offset = event.get_content_offset(self)
        card_id = None if offset is None else self.card_at(offset.x, offset.y)
        tip = self.tips.get(card_id) if card_id else None
        if tip != self.tooltip:
            self.tooltip = tip

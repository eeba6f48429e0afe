"""A DataTable that paints its one-line text cells without Rich's layout machinery.

DataTable renders every visible cell through Rich (Styled(Padding(cell)) and render_lines),
about half a millisecond a cell: a 50-row list refilled on each key press costs tens of
milliseconds to paint. Almost every cell here is one line of Text, and for those the same
segments can be built directly: the text cut to the column (as Rich cuts it), justified, padded
by the cell padding, then the cell's styles applied around it, as Styled does. Anything else
(header cells, row labels, rows taller than one line, other renderables) takes DataTable's own
path. Column widths of new rows are measured the same way, a one-line Text by its length
without a Rich measurement per cell. tests/tui/test_fast_table.py holds the two paths to the
same output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.coordinate import Coordinate
from textual.css.styles import RenderStyles
from textual.geometry import Region, Size
from textual.render import measure
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import CellCacheKey, RowKey, SegmentLines

_PLAIN = Style()
_LOOKS: dict[tuple[Any, ...], list[Segment]] = {}  # a cell's look -> its segments, no meta
_LOOKS_MAX = 4096


class _Fixed:
    """A component's styles with their Rich style worked out once (only for one paint)."""

    def __init__(self, styles: RenderStyles) -> None:
        self.styles = styles
        self.rich_style = styles.rich_style

    def __getattr__(self, name: str) -> Any:
        return getattr(self.styles, name)


class FastTable(DataTable[Any]):
    """DataTable with a direct path for one-line Text cells (same look, same API)."""

    _pass: dict[Any, Any] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        """While the compositor paints the table, styles cannot change: each style the lines
        share (the widget's, its background, a row's component style) is worked out once per
        paint instead of once per line, where walking the ancestors cost a third of a paint."""
        self._pass = {}
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def _per_paint(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()`, once per paint while one runs (see render_lines); at once otherwise."""
        if self._pass is None:
            return compute()
        if key not in self._pass:
            self._pass[key] = compute()
        return self._pass[key]

    def settle_dimensions(self) -> None:
        """Work out the table's size now rather than when the app is next idle (DataTable's
        `_on_idle`), so that a table filled again can be scrolled back before it is painted
        (scrolled to the top for a frame, it flickered)."""
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)

    @property
    def rich_style(self) -> Style:
        return self._per_paint("rich_style", lambda: super(FastTable, self).rich_style)

    @property
    def background_colors(self) -> tuple[Color, Color]:
        return self._per_paint(
            "background_colors", lambda: super(FastTable, self).background_colors
        )

    def get_component_styles(self, *names: str) -> RenderStyles:
        if self._pass is None:
            return super().get_component_styles(*names)
        return self._per_paint(
            names, lambda: _Fixed(super(FastTable, self).get_component_styles(*names))
        )

    def add_row(
        self,
        *cells: Any,
        height: int | None = 1,
        key: str | None = None,
        label: Any = None,
    ) -> RowKey:
        """Text as typed: DataTable reads a str cell as markup, so a client named "Ann [/b]"
        stopped the screen (MarkupError), and parsing every cell cost a tenth of a paint."""
        cells = tuple(Text(cell) if isinstance(cell, str) else cell for cell in cells)
        return super().add_row(*cells, height=height, key=key, label=label)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        keys = list(new_rows)
        found = [(self._row_locations.get(key), self.rows.get(key)) for key in keys]
        if any(row is not None and (row.label is not None or row.auto_height) for _, row in found):
            super()._update_dimensions(keys)  # labels, rows sized by their content
            return
        console = self.app.console
        columns = self.ordered_columns
        # A column given its width paints at that width: its cells need no measuring
        # (fill() gives every column one, from the same cells).
        measured = [i for i, column in enumerate(columns) if column.auto_width]
        for index, row in found:
            if index is None or row is None or not measured:  # removed before the table was idle
                continue
            _, cells = self._get_row_renderables(index)
            for column, cell in ((columns[i], cells[i]) for i in measured if i < len(cells)):
                if isinstance(cell, Text) and "\n" not in cell.plain:
                    width = cell.cell_len
                else:
                    width = measure(console, cell, 1)
                if width > column.content_width:
                    column.content_width = width
        data_cells_width = sum(column.get_render_width(self) for column in self.columns.values())
        header_height = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            data_cells_width + self._row_label_column_width,
            self._total_row_height + header_height,
        )

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row_key is None or row is None or row.height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key: CellCacheKey = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        _, cells = self._get_row_renderables(row_index)
        cell = cells[column_index]
        if not isinstance(cell, Text) or "\n" in cell.plain or "\t" in cell.plain:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        fixed_rows, fixed_columns = self._fixed()
        component_style, post_style = self._cell_styles(
            row_index < fixed_rows or column_index < fixed_columns, hover, cursor
        )
        # The same text in the same styles paints the same segments in any row ("waiting",
        # "PT-EVAL", a priority): those are kept by content, and only the row and column
        # (mouse) meta is added for this cell. A refilled list mostly repeats such cells.
        look = (_same(cell), width, base_style, component_style, post_style)
        segments = _LOOKS.get(look)
        if segments is None:
            segments = self._cell_line(cell, width, base_style + component_style, post_style)
            if len(_LOOKS) >= _LOOKS_MAX:
                _LOOKS.clear()
            _LOOKS[look] = segments
        meta = Style.from_meta({"row": row_index, "column": column_index})
        lines = [[Segment(text, style + meta if style else meta) for text, style, _ in segments]]
        self._cell_render_cache[cache_key] = lines
        return lines

    def _fixed(self) -> tuple[int, int]:
        return self._per_paint("fixed", lambda: (self.fixed_rows, self.fixed_columns))

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """A body row with a row cursor, no labels and no fixed columns (every table here),
        put together as DataTable does, with what every line shares (settings, column widths)
        read once per paint: DataTable reads them for every line and column."""
        shared = self._line_settings()
        if shared is None or row_key is self._header_row_key:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        cursor_type, show_cursor, show_hover, update_count, pseudo, widths, remaining = shared
        cache_key = (
            row_key,
            line_no,
            base_style,
            cursor_location,
            hover_location,
            cursor_type,
            show_cursor,
            show_hover,
            update_count,
            pseudo,
        )
        cached = self._row_render_cache.get(cache_key)
        if cached is not None:
            return cached
        found = self._row_locations.get(row_key)
        row_index = -1 if found is None else found
        row_style = self._get_row_style(row_index, base_style)
        cursor = cursor_location.row == row_index
        hover = hover_location.row == row_index
        render_cell = self._render_cell
        scrollable = [
            render_cell(row_index, column_index, row_style, width, cursor, hover)[line_no]
            for column_index, width in enumerate(widths)
        ]
        extend_style, _ = self._get_styles_to_render_cell(
            row_index == -1, False, False, hover, cursor, show_cursor, show_hover, False, False
        )
        extend_style = row_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        scrollable.append([Segment(" " * remaining, extend_style)])
        pair: tuple[SegmentLines, SegmentLines] = ([], scrollable)
        self._row_render_cache[cache_key] = pair
        return pair

    def _line_settings(self) -> tuple[Any, ...] | None:
        """What the lines of one paint share, or None where DataTable's own path applies."""
        if self._pass is None:
            return None
        return self._per_paint("line", self._read_line_settings)

    def _read_line_settings(self) -> tuple[Any, ...] | None:
        if not (
            self.cursor_type == "row"
            and not self.fixed_columns
            and not (self._labelled_row_exists and self.show_row_labels)
        ):
            return None
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        return (
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
            widths,
            max(0, self.size.width - sum(widths) - self._row_label_column_width),
        )

    def _cell_styles(self, fixed: bool, hover: bool, cursor: bool) -> tuple[Style, Style]:
        """DataTable's cell styles, once per paint for each kind of cell: reading its reactive
        settings for every cell cost more than painting the cell."""
        return self._per_paint(
            ("cell", fixed, hover, cursor),
            lambda: self._get_styles_to_render_cell(
                False,
                False,
                fixed,
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            ),
        )

    def _cell_line(
        self, cell: Text, width: int, pre_style: Style, post_style: Style
    ) -> list[Segment]:
        """One line of `cell` in `width` cells, as Styled(Padding(cell, (0, pad))) paints it."""
        pad = min(self.cell_padding, width // 2)
        inner = max(width - 2 * pad, 0)
        line = cell.copy()
        justify = line.justify or "default"
        overflow = line.overflow or "fold"
        line.rstrip_end(inner)
        if justify in ("left", "full"):
            line.truncate(inner, overflow=overflow, pad=True)
        elif justify == "center":
            line.rstrip()
            line.truncate(inner, overflow=overflow)
            line.pad_left((inner - line.cell_len) // 2)
            line.pad_right(inner - line.cell_len)
        elif justify == "right":
            line.rstrip()
            line.truncate(inner, overflow=overflow)
            line.pad_left(inner - line.cell_len)
        else:
            line.truncate(inner, overflow=overflow)
        segments: list[Segment] = []
        if pad:
            segments.append(Segment(" " * pad, _PLAIN))
        console = self.app.console
        text_style = console.get_style(line.style) if line.style else None
        segments.extend(Segment.apply_style(line.render(console, end=""), style=text_style))
        rest = inner - line.cell_len
        if rest > 0:
            segments.append(Segment(" " * rest))
        if pad:
            segments.append(Segment(" " * pad, _PLAIN))
        return list(Segment.apply_style(segments, style=pre_style, post_style=post_style))


def fill(
    table: DataTable[Any],
    labels: Sequence[str],
    rows: Sequence[tuple[str, tuple]],
    fit: int | None = None,
    shrink: Sequence[int] = (),
) -> None:
    """Replace the columns and rows, each column as wide as its widest cell.

    A table left to size itself settles its widths on idle; a paint before that (a dialog
    opened at once, a snapshot, a busy machine) shows every cell cut to its header's width.
    `rows` are (key, cells). The same labels and rows as the last fill, with the table not
    changed since, leave it as it is: typing on in a search that already found its clients
    ("garc", "garci") repaints no row.

    With `fit` (the columns' room in cells), the `shrink` columns give up width, widest
    first, until the table fits: a long providers list pushed the queue's countdown off the
    right edge ("offered 1h 1")."""
    content = (
        tuple(labels),
        tuple((key, tuple(map(_same, cells))) for key, cells in rows),
        fit,
    )
    memo = _FILLED.get(table)
    if (
        memo == content
        and [key.value for key in table.rows] == [key for key, _ in rows]
        and [str(column.label) for column in table.ordered_columns] == list(labels)
    ):
        return  # (cleared, or rows added, by other means since: the keys tell)
    widths = _widths(table, labels, rows, fit, shrink)
    table.clear(columns=True)
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width)
    for key, cells in rows:
        table.add_row(*cells, key=key)
    _FILLED[table] = content


def _widths(
    table: DataTable[Any],
    labels: Sequence[str],
    rows: Sequence[tuple[str, tuple]],
    fit: int | None,
    shrink: Sequence[int],
) -> list[int]:
    widths = [
        max([cell_len(label), *(cell_len(str(cells[i])) for _, cells in rows)])
        for i, label in enumerate(labels)
    ]
    if fit is not None and shrink:
        widths = fitted(widths, [cell_len(label) for label in labels], fit, shrink, table)
    return widths


def refill(
    table: DataTable[Any],
    labels: Sequence[str],
    rows: Sequence[tuple[str, tuple]],
    fit: int | None = None,
    shrink: Sequence[int] = (),
) -> int:
    """`fill` for a page read again because another desk changed something: when the rows
    are the same ones with the same column widths, only the cells that changed are written
    (no clear, so the cursor and the scroll stay where they are); otherwise the table is
    filled again and scrolled back to where it was (the caller puts the cursor back on its
    row). The number of rows written."""
    keys = [key for key, _ in rows]
    memo = _FILLED.get(table)
    columns = table.ordered_columns
    if (
        memo is not None
        and memo[0] == tuple(labels)
        and [key.value for key in table.rows] == keys
        and [str(column.label) for column in columns] == list(labels)
        and [column.width for column in columns] == _widths(table, labels, rows, fit, shrink)
    ):
        before = dict(memo[1])
        changed = 0
        for key, cells in rows:
            looks = tuple(map(_same, cells))
            old = before.get(key)
            if old == looks:
                continue
            changed += 1
            for i, (column, cell) in enumerate(zip(columns, cells, strict=True)):
                if old is None or old[i] != looks[i]:
                    table.update_cell(key, column.key, cell)
        _FILLED[table] = (tuple(labels), tuple((k, tuple(map(_same, c))) for k, c in rows), fit)
        return changed
    y = table.scroll_y
    fill(table, labels, rows, fit, shrink)
    settle = getattr(table, "settle_dimensions", None)
    if settle is not None:
        settle()
        table.scroll_to(y=y, animate=False, immediate=True)
    return len(rows)


MIN_SHRUNK = 6  # a shrunk column still shows a word


def fitted(
    widths: list[int], floors: list[int], fit: int, shrink: Sequence[int], table: DataTable[Any]
) -> list[int]:
    """Widths whose total (cell padding included) is at most `fit`, taken from `shrink`."""
    widths = list(widths)
    excess = sum(widths) + 2 * table.cell_padding * len(widths) - fit
    while excess > 0:
        room = [i for i in shrink if widths[i] > max(floors[i], MIN_SHRUNK)]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _same(cell: Any) -> Any:
    """What a cell looks like: Rich's Text compares its characters and spans, not its style."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans), cell.justify, cell.overflow)
    return cell


# table -> what the last fill put in it
_FILLED: WeakKeyDictionary[DataTable[Any], Any] = WeakKeyDictionary()

"""FastTable paints its cells as DataTable does: the same characters in the same styles."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from waitlist_tui.tui.widgets.fast_table import FastTable, fill, refill

ROWS = [
    (
        Text("EXACT", "bold green"),
        Text(" 1 ", "reverse"),
        "30d",
        "Ann Lee",
        "+1 617-555-0101",
        "prefers KIM; prefers Mon Tue Wed; 30 days waiting; priority 1",
    ),
    (
        Text("PARTIAL", "yellow"),
        Text("10", justify="right"),
        "3d",
        Text.from_markup("[b]Bold[/b] markup"),  # FastTable reads a str as text, not markup
        None,
        "wants Tue, slot is Mon; a long explanation cut at the column's edge " * 3,
    ),
    (
        Text("x", justify="center"),
        Text("12.5%", "dim", justify="right"),
        "",
        "Ünïcödé 名前",
        "617",
        Text(""),
    ),
]
WIDTHS = [7, 3, 6, 12, 15, 30]


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        for table in (DataTable(id="slow"), FastTable(id="fast")):
            table.zebra_stripes = True
            for index, width in enumerate(WIDTHS):
                table.add_column(f"c{index}", width=width)
            for number, row in enumerate(ROWS):
                table.add_row(*row, key=str(number))
            yield table


def cells(lines: list[list[Segment]]) -> list[list[tuple[str, object]]]:
    return [[(char, seg.style) for seg in line for char in seg.text] for line in lines]


def painted(table: DataTable) -> dict[tuple, list[list[tuple[str, object]]]]:
    """Every body cell: cursor or not, hovered or not, at its width and narrower."""
    base = table.rich_style
    return {
        (row, column, cut, cursor, hover): cells(
            table._render_cell(row, column, base, cut, cursor, hover)
        )
        for row in range(len(ROWS))
        for column, width in enumerate(WIDTHS)
        for cursor in (False, True)
        for hover in (False, True)
        for cut in (width + 2, 4, 1)
    }


async def test_fast_cells_match_datatable_cells() -> None:
    app = Tables()
    async with app.run_test(size=(120, 20)) as pilot:
        seen = {}
        slow, fast = app.query_one("#slow", DataTable), app.query_one("#fast", FastTable)
        # Columns given a width paint at it: FastTable does not measure their cells.
        assert [c.get_render_width(fast) for c in fast.ordered_columns] == [
            c.get_render_width(slow) for c in slow.ordered_columns
        ]
        assert fast.virtual_size == slow.virtual_size
        for name in ("slow", "fast"):  # each painted with the focus (the cursor's colour)
            table = app.query_one(f"#{name}", DataTable)
            table.focus()
            await pilot.pause()
            seen[name] = painted(table)
        assert len(seen["fast"]) == len(ROWS) * len(WIDTHS) * 12
        for key, expected in seen["slow"].items():
            assert seen["fast"][key] == expected, key


class AutoWidths(App[None]):
    def compose(self) -> ComposeResult:
        for table in (DataTable(id="slow"), FastTable(id="fast")):
            table.add_columns(*(f"c{index}" for index in range(len(WIDTHS))))
            for number, row in enumerate(ROWS):
                table.add_row(*row, key=str(number))
            yield table


async def test_fast_column_widths_match_datatable() -> None:
    app = AutoWidths()
    async with app.run_test(size=(200, 20)) as pilot:
        await pilot.pause()
        slow, fast = app.query_one("#slow", DataTable), app.query_one("#fast", FastTable)
        widths = [c.get_render_width(fast) for c in fast.ordered_columns]
        assert widths == [c.get_render_width(slow) for c in slow.ordered_columns]
        assert fast.virtual_size == slow.virtual_size
        fast.add_row(*ROWS[1], key="more")  # and again once rows are added later
        slow.add_row(*ROWS[1], key="more")
        await pilot.pause()
        assert fast.virtual_size == slow.virtual_size


class Lines(Tables):
    CSS = "DataTable { height: 6; }"


async def test_fast_lines_match_datatable_lines() -> None:
    """Whole painted lines (header, zebra rows, the cursor row, the space after the last
    column), with the styles FastTable works out once per paint."""
    app = Lines()
    async with app.run_test(size=(100, 20)) as pilot:
        seen = {}
        for name in ("slow", "fast"):
            table = app.query_one(f"#{name}", DataTable)
            table.focus()
            table.move_cursor(row=1)
            await pilot.pause()
            strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
            seen[name] = [[(seg.text, seg.style) for seg in strip] for strip in strips]
        assert len(seen["fast"]) == 6
        assert seen["fast"] == seen["slow"]
        assert app.query_one("#fast", FastTable)._pass is None  # nothing kept after the paint


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield FastTable()


async def test_fill_leaves_an_unchanged_table_alone() -> None:
    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(FastTable)
        rows = [("a", (Text("1", "red"), "Ann")), ("b", (Text("2", "red"), "Bo"))]
        fill(table, ["Pri", "Name"], rows)
        await pilot.pause()
        count = table._update_count  # after the table settled (sizing counts as updates)
        fill(table, ["Pri", "Name"], list(rows))  # the same again: nothing rebuilt
        assert table._update_count == count
        fill(table, ["Pri", "Name"], [("a", (Text("1", "green"), "Ann")), rows[1]])
        assert table._update_count > count  # same characters, new colour: refilled
        assert table.get_cell_at((0, 0)).style == "green"
        table.clear()
        count = table._update_count
        fill(table, ["Pri", "Name"], [("a", (Text("1", "green"), "Ann")), rows[1]])
        assert table.row_count == 2 and table._update_count > count  # cleared elsewhere
        fill(table, ["Pri", "Name"], [("c", ("3", "Ann [/b] [red]Lee"))])  # text, not markup
        await pilot.pause()
        assert table.get_cell_at((0, 1)).plain == "Ann [/b] [red]Lee"


async def test_refill_writes_only_the_cells_that_changed_and_keeps_the_place() -> None:
    """Another desk's change (live desks): the same rows with a cell changed are updated in
    place (no clear: the cursor and the scroll stay); a row added fills the table again,
    scrolled back to where it was."""
    app = One()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(FastTable)
        table.cursor_type = "row"
        rows = [(f"k{i}", (str(i), f"name {i}", "waiting")) for i in range(30)]
        fill(table, ["#", "Name", "Status"], rows)
        await pilot.pause()
        table.move_cursor(row=20)
        await pilot.pause()
        place = (table.cursor_row, table.scroll_y)
        assert place[1] > 0
        changed = list(rows)
        changed[20] = ("k20", ("20", "name 20", "offered"))
        assert refill(table, ["#", "Name", "Status"], changed) == 1
        assert (table.cursor_row, table.scroll_y) == place
        assert str(table.get_cell("k20", table.ordered_columns[2].key)) == "offered"
        assert refill(table, ["#", "Name", "Status"], list(changed)) == 0  # nothing new
        added = [("new", ("99", "name 99", "waiting")), *changed]
        assert refill(table, ["#", "Name", "Status"], added) == len(added)
        assert table.row_count == 31 and table.scroll_y == place[1]

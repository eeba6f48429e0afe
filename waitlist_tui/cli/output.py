"""How commands answer: the JSON envelope with --json, readable text otherwise, and domain
errors on stderr with a non-zero exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from waitlist_tui.domain.errors import DomainError, ValidationError
from waitlist_tui.domain.textinput import printable

if TYPE_CHECKING:
    import pendulum

SUCCESS = {"code": 2000, "message": "Success"}
EXIT_DOMAIN_ERROR = 1


@dataclass
class Ctx:
    """What every command gets: settings and the output mode."""

    db_url: str
    staff: str
    json: bool
    db_explicit: bool
    opened: str | None = None
    role: str | None = None  # --staff-role: what the served desk passes for its login

    def out(self, data: Any, text: Callable[[Any], None] | None = None) -> None:
        if self.json or text is None:
            click.echo(json.dumps({**SUCCESS, "data": data}, ensure_ascii=False, default=str))
        else:
            text(data)


def fail(err: DomainError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(err.to_dict(), ensure_ascii=False, default=str))
    else:
        click.echo(f"error {err.code}: {printable(err.message)}", err=True)
        if isinstance(err.data, dict) and err.data.get("errors"):
            for row in err.data["errors"]:
                click.echo(f"  row {row['row']}: {printable(row['message'])}", err=True)
    sys.exit(EXIT_DOMAIN_ERROR)


def local_time(iso_utc: str | None, time_zone: str) -> str:
    """A time in text output as the desk reads it: clinic time ("Wed 9 Dec 08:00"); JSON
    keeps UTC ("2026-12-09T13:00:00Z" read as a 13:00 appointment)."""
    if not iso_utc:
        return ""
    return instant(iso_utc).in_timezone(time_zone).format("ddd D MMM HH:mm")


def instant(iso_utc: str) -> pendulum.DateTime:
    """A time of the JSON envelope (always a date-time: pendulum.parse could also give a
    date, a time or a duration for other text)."""
    import pendulum

    parsed = pendulum.parse(iso_utc)
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError(f"not a date-time: {iso_utc!r}")
    return parsed


def clinic_zone() -> str:
    """The clinic's time zone for text output (the database is open)."""
    from waitlist_tui.domain.catalog.clinics import get_clinic

    return get_clinic().time_zone


def with_one_more(limit: int, offset: int) -> int:
    """The rows to read for a page of `limit`: one more tells whether the list goes on."""
    if not 1 <= limit <= 1000:
        raise ValidationError("limit must be 1-1000", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    return limit + 1


def one_more(items: list[Any], limit: int) -> tuple[list[Any], bool]:
    """A list read with limit + 1 rows: the page, and whether there is more after it."""
    return items[:limit], len(items) > limit


def more_line(shown: int, offset: int, more: bool, order: str) -> None:
    """Under a list's table: which rows these are, in which order, and how to see the rest
    (`offers list` stopped at 200 rows without a word)."""
    if not shown:
        click.echo(f"nothing to list{f' from row {offset + 1}' if offset else ''}")
        return
    rows = f"rows {offset + 1}-{offset + shown}, {order}"
    click.echo(f"{rows}; more with --offset {offset + shown}" if more else f"{rows}; no more")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Cells are data, never markup: a name like "Ann [/b]" prints as typed (a str cell was
    read as Rich markup and stopped the command), and control characters print escaped."""
    # Rich's console and table load with the first table printed: opening the app (which
    # every command module's import would otherwise pay for) does not need them.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    grid = Table(
        title=Text(printable(title)) if title else None,
        show_edge=False,
        header_style="bold",
        pad_edge=False,
    )
    for column in columns:
        grid.add_column(Text(column))
    for row in rows:
        grid.add_row(*(Text(printable(v)) for v in row))
    Console(highlight=False, soft_wrap=False, markup=False, emoji=False).print(grid)


def pairs(data: dict[str, Any]) -> None:
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False, default=str)
        click.echo(f"{key.ljust(width)}  {printable(value)}")

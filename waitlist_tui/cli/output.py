"""How commands answer: the JSON envelope with --json, readable text otherwise, and domain
errors on stderr with a non-zero exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.textinput import printable

SUCCESS = {"code": 2000, "message": "Success"}
EXIT_DOMAIN_ERROR = 1


@dataclass
class Ctx:
    """What every command gets: settings and the output mode."""

    db_url: str | None
    staff: str
    json: bool
    db_explicit: bool
    opened: str | None = None

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

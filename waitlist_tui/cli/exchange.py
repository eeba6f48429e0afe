"""`waitlist-tui export` and `waitlist-tui import`."""

from __future__ import annotations

import sys
from typing import Any

import click

from waitlist_tui.cli import progress
from waitlist_tui.cli.output import Ctx
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.private_files import open_private
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import exchange, listing


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--out", "out_path", metavar="F", help="File to write (default: stdout).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="S",
    help="Only these statuses (repeatable); default: every entry.",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="A progress bar on stderr (default: when stderr is a terminal).",
)
@click.pass_obj
def export_command(
    ctx: Ctx,
    fmt: str,
    out_path: str | None,
    statuses: tuple[str, ...],
    show_progress: bool | None,
) -> None:
    """Write entries as CSV or JSON, streamed (fine at a million rows)."""
    open_db(ctx)
    wanted = listing.expand_statuses(statuses) if statuses else ()
    with progress.Bars() as bars:
        told = None
        if progress.wanted(show_progress):
            total = exchange.count_entries(wanted)
            told = lambda done: bars("export", done, total)  # noqa: E731
        if out_path:
            # 0600 (an existing file narrowed too), new directories 0700: clients' details
            with open_private(out_path, "w", encoding="utf-8", newline="") as out:
                count = exchange.export(out, fmt, wanted, progress=told)
        else:
            count = exchange.export(sys.stdout, fmt, wanted, progress=told)
    if out_path:
        click.echo(f"exported {count} entries to {out_path}", err=True)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the others (default: all or nothing).",
)
@click.option(
    "--on-existing",
    type=click.Choice(exchange.ON_EXISTING),
    default="skip",
    show_default=True,
    help="An entry already here (same id): leave it, or update its editable fields.",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="A progress bar on stderr (default: when stderr is a terminal).",
)
@json_option
@click.pass_obj
def import_command(
    ctx: Ctx, file: str, skip_invalid: bool, on_existing: str, show_progress: bool | None
) -> None:
    """Add entries from a CSV or JSON file (the export's format). Ids, created_at and status
    are kept, so importing the same file again adds nothing twice. Every row is checked
    first: one bad row and nothing is written (all of them are listed), unless
    --skip-invalid."""
    open_db(ctx)
    with progress.Bars() as bars:
        result = exchange.import_file(
            file,
            ctx.staff,
            skip_invalid=skip_invalid,
            on_existing=on_existing,
            progress=bars if progress.wanted(show_progress) else None,
        )

    def text(d: dict[str, Any]) -> None:
        click.echo(
            f"{d['rows']} rows: {d['added']} added, {d['updated']} updated, "
            f"{d['skipped']} already here (skipped), {d['invalid']} invalid"
        )
        for row in d["errors"]:
            click.echo(f"  invalid row {row['row']}: {printable(row['message'])}", err=True)

    ctx.out(result, text)

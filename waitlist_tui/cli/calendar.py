"""Providers' calendars on the command line: import a file once, sync every source (safe from
cron), export what the waitlist booked, and list the sources with their last sync."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from waitlist_tui.cli.output import Ctx, clinic_zone, local_time, table
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.private_files import open_private

COUNTS = ("added", "updated", "cancelled", "unchanged", "openings_created")


@click.group("calendar")
def calendar_group() -> None:
    """Providers' calendars (iCalendar files and feeds) in, the waitlist's bookings out."""


def _counts_line(row: dict[str, Any]) -> str:
    if row.get("not_modified"):
        return f"{row['provider']} {row['source']}: not changed since the last sync"
    counts = ", ".join(f"{row[k]} {k.replace('_', ' ')}" for k in COUNTS)
    skipped = row.get("skipped") or {}
    extra = "; skipped " + ", ".join(f"{n} {why}" for why, n in skipped.items()) if skipped else ""
    sent = f"; {row['offers_sent']} offers sent" if row.get("offers_sent") else ""
    return f"{row['provider']} {row['source']}: {counts}{sent}{extra}"


@calendar_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", required=True, metavar="CODE", help="Whose calendar this is.")
@json_option
@click.pass_obj
def calendar_import(ctx: Ctx, path: Path, provider: str) -> None:
    """Read one .ics file into the provider's appointments (again: updates them)."""
    from waitlist_tui.domain.calendar.fetch import read_file
    from waitlist_tui.domain.calendar.sync import import_file
    from waitlist_tui.domain.catalog.clinics import get_clinic

    open_db(ctx)
    fetched = read_file(str(path), "")
    assert fetched.data is not None  # no tag given: always read
    result = import_file(get_clinic(), provider, fetched.data, path.name, ctx.staff)
    ctx.out(result.to_dict(), lambda d: click.echo(_counts_line(d)))


@calendar_group.command("sync")
@click.option("--provider", metavar="CODE", help="Only this provider's sources.")
@json_option
@click.pass_obj
def calendar_sync(ctx: Ctx, provider: str | None) -> None:
    """Sync every calendar source the clinic file names (each one all or nothing). Exits 1
    when a source failed, after syncing the others."""
    from waitlist_tui.domain.calendar.sync import sync_all
    from waitlist_tui.domain.catalog.clinics import get_clinic

    open_db(ctx)
    outcome = sync_all(get_clinic(), ctx.staff, provider)

    def text(d: dict[str, Any]) -> None:
        for row in d["synced"]:
            click.echo(_counts_line(row))
        for row in d["failed"]:
            click.echo(f"{row['provider']} {row['source']}: FAILED: {row['error']}", err=True)
        if not d["synced"] and not d["failed"]:
            click.echo("no calendar sources: list them under [[providers.calendars]]")

    ctx.out(outcome, text)
    if outcome["failed"]:
        sys.exit(1)


@calendar_group.command("export")
@click.option("--provider", required=True, metavar="CODE")
@click.option("--out", "out_path", metavar="F", help="File to write (default: stdout).")
@click.pass_obj
def calendar_export(ctx: Ctx, provider: str, out_path: str | None) -> None:
    """Write the appointments the waitlist booked for the provider as an .ics file (private:
    it names clients, so the file is created 0600)."""
    from waitlist_tui.domain.calendar.booked import export_provider
    from waitlist_tui.domain.catalog.clinics import get_clinic

    open_db(ctx)
    data, count = export_provider(get_clinic(), provider)
    if out_path is None:
        sys.stdout.buffer.write(data)
        return
    with open_private(out_path, "wb") as handle:
        handle.write(data)
    click.echo(f"wrote {count} appointments to {out_path}", err=True)


@calendar_group.command("list")
@json_option
@click.pass_obj
def calendar_list(ctx: Ctx) -> None:
    """The calendar sources and how their last sync went."""
    from waitlist_tui.domain.calendar.sync import source_status
    from waitlist_tui.domain.catalog.clinics import get_clinic

    open_db(ctx)
    rows = source_status(get_clinic())
    zone = clinic_zone()
    ctx.out(
        rows,
        lambda d: table(
            ("provider", "source", "synced", "failed", "error"),
            [
                (
                    r["provider"],
                    r["source"],
                    local_time(r["synced_at"], zone) if r["synced_at"] else "never",
                    local_time(r["failed_at"], zone) if r["failed_at"] else "",
                    r["error"] or "",
                )
                for r in d
            ],
        ),
    )

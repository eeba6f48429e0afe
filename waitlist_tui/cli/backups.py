"""`waitlist-tui backup` and `waitlist-tui restore`: a consistent, checksummed copy of the
database while desks work, and putting one back (checked on a copy first)."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx
from waitlist_tui.cli.runtime import json_option
from waitlist_tui.domain import session


def _backed_up(d: dict[str, Any]) -> None:
    size = d["bytes"] / 1e6
    click.echo(f"backup written: {d['file']} ({size:,.1f} MB, {d['format']}, {d['seconds']} s)")
    click.echo(f"sha256 {d['sha256']}  (checksum in {d['checksum_file']})")
    if "rows" in d:
        rows = d["rows"]
        click.echo(
            f"rows: {rows.get('entry', 0):,} entries, {rows.get('client', 0):,} clients, "
            f"{sum(rows.values()):,} in all"
        )
    if d["removed"]:
        click.echo(f"retention removed {len(d['removed'])}: {', '.join(d['removed'])}")
    if d["swept"]:
        click.echo(f"removed what killed runs left: {', '.join(d['swept'])}")
    click.echo(f"{d['kept']} backups in the folder")


@click.command("backup")
@click.option("--to", "to", metavar="DIR", help="Folder (default: [backup] dir, or backups/).")
@click.option("--keep-daily", type=click.IntRange(0), metavar="N", help="Keep N daily backups.")
@click.option("--keep-weekly", type=click.IntRange(0), metavar="M", help="Keep M weekly ones.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["db", "pgdump"]),
    help="db: a SQLite file (any backend); pgdump: pg_dump's (default on PostgreSQL).",
)
@json_option
@click.pass_obj
def backup_command(
    ctx: Ctx, to: str | None, keep_daily: int | None, keep_weekly: int | None, fmt: str | None
) -> None:
    """Copy the database while desks work: one file named with the time, 0600, with its
    .sha256; the daily/weekly retention applied. Safe from cron."""
    report = session.backup(ctx.db_url, to, fmt=fmt, keep_daily=keep_daily, keep_weekly=keep_weekly)
    ctx.out(report, _backed_up)


def _restored(d: dict[str, Any]) -> None:
    click.echo(f"restored {d['file']} into {d['target']} in {d['seconds']} s")
    if d["note"].get("migrated_from"):
        click.echo(f"(its schema was brought up from version {d['note']['migrated_from']})")
    click.echo(f"{'table':<18} {'backup':>10} {'restored':>10} {'before':>10}")
    for row in d["rows"]:
        before = "-" if row["before"] is None else f"{row['before']:,}"
        mark = "" if row["same"] else "  DIFFERS"
        if row["table"] == "audit_event" and row["same"]:
            mark = "  (+1: this restore)"
        click.echo(
            f"{row['table']:<18} {row['backup']:>10,} {row['restored'] or 0:>10,} "
            f"{before:>10}{mark}"
        )


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--to", "to", metavar="URL", help="Database to restore into (default: --db / the desk's)."
)
@json_option
@click.pass_obj
def restore_command(ctx: Ctx, file: str, to: str | None) -> None:
    """Put a backup in place of the database: its checksum, integrity, schema version and
    the waitlist's rules are checked on a copy first, and it goes in only when no other desk
    has the database open. Into PostgreSQL from a SQLite backup (and back) too."""
    from waitlist_tui.cli.runtime import staff_name

    report = session.restore(file, to or ctx.db_url, staff_name(ctx.staff))
    ctx.out(report, _restored)

"""`waitlist-tui maintenance ...`: housekeeping that no desk needs day to day."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx
from waitlist_tui.cli.runtime import json_option, open_db


@click.group("maintenance")
def maintenance_group() -> None:
    """Housekeeping over the whole database."""


def _rebuilt(d: dict[str, Any]) -> None:
    line = (
        f"stats rollups rebuilt in {d['seconds']} s: {d['stats_count']:,} counts, "
        f"{d['stats_point']:,} points"
    )
    if "matched" in d:
        line += "; they matched the tables before" if d["matched"] else "; they had drifted"
    click.echo(line)


@maintenance_group.command("rebuild-stats")
@click.option(
    "--check", is_flag=True, help="Also say whether the rollups matched the tables (slower)."
)
@json_option
@click.pass_obj
def rebuild_stats_command(ctx: Ctx, check: bool) -> None:
    """Recompute the stats rollups from the entries, offers and openings, and reinstall the
    triggers that keep them (a repair tool: every write keeps them right by itself)."""
    from waitlist_tui.domain.session import rebuild_stats

    open_db(ctx)
    ctx.out(rebuild_stats(ctx.staff, check=check), _rebuilt)


def _fixed(changed: list[dict[str, str]]) -> None:
    if not changed:
        click.echo("nothing to fix: the database's files are 0600 and its folders 0700")
    for item in changed:
        click.echo(f"{item['path']}: {item['mode']} -> {item['wanted']}")


@maintenance_group.command("fix-permissions")
@click.option(
    "--also",
    "also",
    multiple=True,
    metavar="PATH",
    help="Another file or folder to fix (a backup folder, an export); repeatable.",
)
@json_option
@click.pass_obj
def fix_permissions_command(ctx: Ctx, also: tuple[str, ...]) -> None:
    """Make the database's files (and its WAL, its backups) 0600 and their folders 0700, so
    that no other user of the machine can read the waitlist."""
    from waitlist_tui.domain.session import fix_permissions

    ctx.out(fix_permissions(ctx.db_url, list(also)), _fixed)


def _purged(d: dict[str, Any]) -> None:
    if not d["months"]:
        click.echo(
            f"clinic {d['clinic']}: no retention rule ([retention] purge_closed_after_months "
            "in the clinic file): nothing to purge"
        )
        return
    verb = "purged" if d["applied"] else "would purge"
    click.echo(
        f"clinic {d['clinic']}: entries closed before {d['cutoff'][:10]} "
        f"({d['months']} months): {verb} {d['clients_erased']} clients (erased) and the "
        f"notes of {d['entries_cleared']} other entries"
    )
    if not d["applied"] and (d["clients_erased"] or d["entries_cleared"]):
        click.echo("a dry run: nothing changed; --apply to purge")


@maintenance_group.command("purge")
@click.option("--apply", "apply_", is_flag=True, help="Purge (without it: say what would go).")
@json_option
@click.pass_obj
def purge_command(ctx: Ctx, apply_: bool) -> None:
    """Purge the personal data of entries closed longer ago than the clinic's retention rule
    ([retention] purge_closed_after_months). A dry run unless --apply; safe from cron."""
    from waitlist_tui.domain.privacy import retention

    open_db(ctx)
    ctx.out(retention.purge(ctx.staff, apply=apply_), _purged)

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

"""`waitlist-tui audit list`: the audit trail, filtered, newest first, a page at a time."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import (
    Ctx,
    clinic_zone,
    local_time,
    more_line,
    one_more,
    table,
    with_one_more,
)
from waitlist_tui.cli.runtime import json_option, open_db


@click.group("audit")
def audit_group() -> None:
    """Who changed what, and when."""


@audit_group.command("list")
@click.option("--entry", metavar="ID", help="An entry's trail: it, its offers, messages, replies.")
@click.option("--client", metavar="ID", help="A client's trail: them and all that is theirs.")
# --staff names who is at the desk (a root option, read anywhere on the line): the filter is --by
@click.option("--by", "staff", metavar="NAME", help="Rows written by this staff member (or job).")
@click.option("--kind", metavar="KIND", help="An action (entry.update), its first word, or a type.")
@click.option("--from", "start", metavar="DAY|TIME", help="From this clinic day or time on.")
@click.option("--to", "end", metavar="DAY|TIME", help="Up to this time, or to this day's end.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@json_option
@click.pass_obj
def audit_list(
    ctx: Ctx,
    entry: str | None,
    client: str | None,
    staff: str | None,
    kind: str | None,
    start: str | None,
    end: str | None,
    limit: int,
    offset: int,
) -> None:
    """The audit trail, newest first; every filter given must match."""
    from waitlist_tui.domain.privacy import trail

    open_db(ctx)
    rows = trail.list_events(
        entry=entry,
        client=client,
        staff=staff,
        kind=kind,
        start=start,
        end=end,
        limit=with_one_more(limit, offset),
        offset=offset,
    )
    page, more = one_more(rows, limit)
    data = {
        "items": [r.to_dict() for r in page],
        "limit": limit,
        "offset": offset,
        "more": more,
    }

    def text(d: dict[str, Any]) -> None:
        zone = clinic_zone()
        table(
            ("at", "who", "action", "object", "changes"),
            [
                (
                    local_time(r["at"], zone),
                    r["actor"],
                    r["action"],
                    f"{r['object_type']} {r['object_id'][:8]}",
                    s.summary(80),
                )
                for r, s in zip(d["items"], page, strict=True)
            ],
        )
        more_line(len(d["items"]), offset, d["more"], "newest first")

    ctx.out(data, text)

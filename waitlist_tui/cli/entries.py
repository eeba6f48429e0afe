"""`waitlist-tui entries ...`: add, list, show, update, cancel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from waitlist_tui.cli.output import Ctx, instant, pairs, table
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain import clock, jsoninput
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.timeutil import parse_date
from waitlist_tui.domain.waitlist import adding, changes, listing, reading


def read_json(path: str) -> Any:
    """The --json-file's value; not UTF-8, not JSON or nested too deep is a 4000."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", field="json_file") from exc
    except ValueError as exc:  # a NUL in the path
        raise ValidationError(f"cannot read {path!r}: {exc}", field="json_file") from exc
    text = jsoninput.decode_utf8(data, path, "json_file")
    return jsoninput.loads(text, path, "json_file")


def entry_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    now = clock.now()
    rows = []
    for e in items:
        waited = (now - instant(e["created_at"])).days
        rows.append(
            [
                e["id"][:8],
                e["priority"],
                e["status"],
                f"{e['client']['first_name']} {e['client']['last_name']}",
                e["client"]["phone"] or e["client"]["email"] or "",
                e["service"]["code"],
                " ".join(e["preferred_providers"]) or "any",
                f"{e['date_range_start']} → {e['date_range_end']}",
                f"{waited}d",
            ]
        )
    return rows


ROW_COLUMNS = (
    "id",
    "pri",
    "status",
    "client",
    "contact",
    "service",
    "providers",
    "dates",
    "waited",
)


@click.group("entries")
def entries_group() -> None:
    """Waitlist entries (waitlist requests)."""


@entries_group.command("add")
@click.option(
    "--json-file",
    "json_file",
    required=True,
    metavar="F|-",
    help="One entry object or a list of them; - reads stdin.",
)
@json_option
@click.pass_obj
def add(ctx: Ctx, json_file: str) -> None:
    """Add entries. A list is added in one transaction: all or nothing."""
    open_db(ctx)
    payload = read_json(json_file)
    if isinstance(payload, list):
        created = adding.create_many(payload, ctx.staff)
        data: Any = [e.to_dict() for e in created]
        ctx.out(data, lambda d: table(ROW_COLUMNS, entry_rows(d), f"{len(d)} entries added"))
    else:
        view = adding.create(payload, ctx.staff)
        ctx.out(view.to_dict(), lambda d: click.echo(f"added {d['id']}"))


@entries_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="S",
    help="waiting, offered, booked, cancelled, expired, pending, ACTIVE, all (repeatable); "
    "default: waiting and offered.",
)
@click.option("--service", metavar="CODE")
@click.option("--provider", metavar="CODE", help="Entries that would take this provider.")
@click.option("--search", metavar="TEXT", help="Client name, phone or email.")
@click.option("--date", "on_date", metavar="YYYY-MM-DD", help="Entries whose range includes it.")
@click.option(
    "--sort", type=click.Choice(list(listing.SORTS)), default="priority", show_default=True
)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@json_option
@click.pass_obj
def list_(
    ctx: Ctx,
    statuses: tuple[str, ...],
    service: str | None,
    provider: str | None,
    search: str | None,
    on_date: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> None:
    """One page of entries, most urgent and longest waiting first."""
    open_db(ctx)
    query = listing.EntryQuery(
        statuses=listing.expand_statuses(statuses) if statuses else listing.EntryQuery.statuses,
        service=service,
        provider=provider,
        search=search,
        on_date=parse_date(on_date, "date") if on_date else None,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    page = listing.list_entries(query).to_dict()

    def text(d: dict[str, Any]) -> None:
        first = d["offset"] + 1 if d["items"] else 0
        table(
            ROW_COLUMNS,
            entry_rows(d["items"]),
            f"{first}–{d['offset'] + len(d['items'])} of {d['total']:,}",
        )

    ctx.out(page, text)


@entries_group.command("show")
@click.argument("entry_id")
@click.option("--include-offers", is_flag=True, help="With the entry's invites and openings.")
@json_option
@click.pass_obj
def show(ctx: Ctx, entry_id: str, include_offers: bool) -> None:
    """One entry by id or unique prefix (6+ characters)."""
    open_db(ctx)
    view = reading.get(entry_id)
    data = view.to_dict()
    if include_offers:
        data.update(reading.offers_detail(view.id))
    ctx.out(data, pairs)


@entries_group.command("update")
@click.argument("entry_id")
@click.option(
    "--json-file",
    "json_file",
    required=True,
    metavar="F|-",
    help='The fields to change (PATCH); include "version" to refuse stale edits.',
)
@json_option
@click.pass_obj
def update(ctx: Ctx, entry_id: str, json_file: str) -> None:
    """Change some fields of an entry."""
    open_db(ctx)
    view = changes.update(entry_id, read_json(json_file), ctx.staff)
    ctx.out(view.to_dict(), lambda d: click.echo(f"updated {d['id']} (version {d['version']})"))


@entries_group.command("keep-later")
@click.argument("entry_id")
@click.option("--off", is_flag=True, help="Release it again when an earlier slot is taken.")
@json_option
@click.pass_obj
def keep_later(ctx: Ctx, entry_id: str, off: bool) -> None:
    """The client keeps their later appointment as well when they take an earlier slot (no
    knock-on release); --off undoes it."""
    open_db(ctx)
    view = changes.update(entry_id, {"keep_later_appointment": not off}, ctx.staff)
    ctx.out(
        view.to_dict(),
        lambda d: click.echo(
            f"{d['id'][:8]}: "
            + (
                "keeps the later appointment as well"
                if d["keep_later_appointment"]
                else "releases the later appointment when moved up"
            )
        ),
    )


@entries_group.command("cancel")
@click.argument("entry_id")
@click.option("--reason", default="", help="Kept in the entry's notes.")
@click.option("--version", type=int, help="Refuse if the entry changed since this version.")
@json_option
@click.pass_obj
def cancel(ctx: Ctx, entry_id: str, reason: str, version: int | None) -> None:
    """Take an entry off the waitlist (its live offer, if any, is rescinded)."""
    open_db(ctx)
    view = changes.cancel(entry_id, ctx.staff, version=version, reason=reason)
    ctx.out(view.to_dict(), lambda d: click.echo(f"cancelled {d['id']}"))

"""Openings on the command line (add, close, list, show) and `match`: who fits a slot."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import (
    Ctx,
    clinic_zone,
    local_time,
    table,
)
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.textinput import printable


def _openings_table(items: list[dict[str, Any]]) -> None:
    zone = clinic_zone()
    table(
        ("id", "start", "min", "provider", "service", "status", "workflow"),
        [
            (
                o["id"][:8],
                local_time(o["slot_start"], zone),
                o["minutes"],
                o["provider"],
                o["service"] or "",
                o["status"],
                o["workflow_type"] or "",
            )
            for o in items
        ],
    )


@click.group("openings")
def openings_group() -> None:
    """Free blocks the desk wants to fill."""


@openings_group.command("add")
@click.option("--provider", required=True, metavar="CODE")
@click.option("--start", required=True, metavar="ISO-LOCAL", help="e.g. 2026-11-24T09:00")
@click.option("--minutes", required=True, type=int)
@click.option("--service", metavar="CODE", help="Only entries for this service.")
@click.option("--later", is_flag=True, help="An ambiguous time (clocks back) means the later.")
@click.option(
    "--outside-hours", is_flag=True, help="Open it even outside the provider's weekly hours."
)
@click.option("--offer", "offer_it", is_flag=True, help="Offer it to the best candidate too.")
@click.option("--broadcast", "top", type=int, metavar="N", help="Offer it to the top N at once.")
@json_option
@click.pass_obj
def openings_add(
    ctx: Ctx,
    provider: str,
    start: str,
    minutes: int,
    service: str | None,
    later: bool,
    outside_hours: bool,
    offer_it: bool,
    top: int | None,
) -> None:
    """Open a block. With --offer or --broadcast N it is opened and offered in one
    transaction: if nobody can take it (or another desk got there first) nothing is opened."""
    from waitlist_tui.domain.fill.openings import OpeningView, add_opening

    open_db(ctx)
    if offer_it or top is not None:
        _open_and_offer(ctx, (provider, start, minutes, service, later), outside_hours, top)
        return
    view = OpeningView.of(
        add_opening(
            provider, start, minutes, ctx.staff, service, later, outside_hours_ok=outside_hours
        )
    )
    ctx.out(
        view.to_dict(),
        lambda d: click.echo(f"opening {d['id']} at {local_time(d['slot_start'], clinic_zone())}"),
    )


def _open_and_offer(
    ctx: Ctx, typed: tuple[str, str, int, str | None, bool], outside_hours: bool, top: int | None
) -> None:
    """`openings add --offer/--broadcast N`: the opening with the offers it got ("offers")."""
    from waitlist_tui.domain import vocab
    from waitlist_tui.domain.catalog.clinics import get_clinic
    from waitlist_tui.domain.fill.openings import OpeningView, get_opening, typed_slot
    from waitlist_tui.domain.fill.slot_offers import offer_slot

    clinic = get_clinic()
    slot = typed_slot(*typed, clinic)
    workflow = vocab.SEQUENTIAL if top is None else vocab.BROADCAST
    sent = offer_slot(slot, ctx.staff, workflow=workflow, top=top, outside_hours_ok=outside_hours)
    data = OpeningView.of(get_opening(sent[0].opening_id)).to_dict()
    data["offers"] = [o.to_dict() for o in sent]

    def text(d: dict[str, Any]) -> None:
        names = ", ".join(o["client"] for o in d["offers"])
        at = local_time(d["slot_start"], clinic_zone())
        click.echo(f"opening {d['id']} at {at}; offered to {names}")

    ctx.out(data, text)


@openings_group.command("close")
@click.argument("opening_id")
@click.option("--note", default="", help="Why the slot is taken back.")
@json_option
@click.pass_obj
def openings_close(ctx: Ctx, opening_id: str, note: str) -> None:
    """Withdraw an opening: it closes and its live offers end (texted clients are told)."""
    from waitlist_tui.domain.fill.offers import withdraw_opening

    open_db(ctx)
    data = withdraw_opening(opening_id, ctx.staff, note)
    ctx.out(
        data,
        lambda d: click.echo(
            f"opening {d['opening_id'][:8]} closed; offers ended: {d['offers_ended']}"
        ),
    )


@openings_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "filled", "closed", "all"]),
    default="open",
    show_default=True,
)
@json_option
@click.pass_obj
def openings_list(ctx: Ctx, status: str) -> None:
    from waitlist_tui.domain.fill.openings import list_openings

    open_db(ctx)
    items = [o.to_dict() for o in list_openings(None if status == "all" else status)]
    ctx.out(items, _openings_table)


@click.command("match")
@click.option("--opening", "opening_id", metavar="ID", help="Ranked candidates for an opening.")
@click.option("--entry", "entry_id", metavar="ID", help="Free slots for an entry.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--exact-only", is_flag=True, help="Hide PARTIAL matches.")
@json_option
@click.pass_obj
def match_command(
    ctx: Ctx, opening_id: str | None, entry_id: str | None, limit: int, exact_only: bool
) -> None:
    """Who can take an opening, or which slots an entry can take."""
    from waitlist_tui.domain.errors import ValidationError

    open_db(ctx)
    if bool(opening_id) == bool(entry_id):
        raise ValidationError("give --opening or --entry", field="opening")
    if opening_id:
        from waitlist_tui.domain.fill.finder import offer_terms_now
        from waitlist_tui.domain.fill.matching import candidates
        from waitlist_tui.domain.fill.openings import get_opening

        opening = get_opening(opening_id)
        data = candidates(opening, limit, include_partial=not exact_only).to_dict()
        data["offer_terms"] = offer_terms_now(opening)
        ctx.out(
            data,
            lambda d: table(
                ("entry", "match", "pri", "waited", "client", "phone", "why"),
                [
                    (
                        c["entry_id"][:8],
                        c["match_type"],
                        c["priority"],
                        f"{c['waited_days']}d",
                        c["client"],
                        c["phone"] or "",
                        c["explanation"],
                    )
                    for c in d["items"]
                ],
                f"{len(d['items'])} of {d['total']} candidates ({d['exact']} exact)",
            ),
        )
        return
    from waitlist_tui.domain.errors import NotFound
    from waitlist_tui.domain.fill.slot_offers import slots_for_entry

    assert entry_id is not None  # one of the two was given (checked above)
    try:
        found = slots_for_entry(entry_id, limit=limit, field="entry")
    except NotFound:
        raise NotFound("waitlist request not found", field="entry") from None
    groups = [g.to_dict() for g in found]
    zone = clinic_zone()
    ctx.out(
        groups,
        lambda d: table(
            ("date", "provider", "slots"),
            [
                (
                    g["date"],
                    g["provider"],
                    " ".join(local_time(s["start"], zone)[-5:] for s in g["slots"]),
                )
                for g in d
            ],
        ),
    )


def _why_text(d: dict[str, Any]) -> None:
    why = d.get("why")
    if why is None:
        return
    click.echo("why:")
    if not why["rankings"]:
        click.echo(f"  {why['text']}")
    for r in why["rankings"]:
        click.echo(f"  {local_time(r['at'], clinic_zone())} by {r['by']}, {r['why_workflow']}")
        click.echo(f"    {r['summary']}")
    for s in why["skips"]:
        click.echo(f"  skipped {s['client']} ({s['by']}): {s['reason']}")


@openings_group.command("show")
@click.argument("opening_id")
@click.option("--why", "with_why", is_flag=True, help="What the desk saw each time it offered.")
@json_option
@click.pass_obj
def openings_show(ctx: Ctx, opening_id: str, with_why: bool) -> None:
    """One opening by id or prefix: its offer terms, the booking that freed it (knock-on) and
    the openings its own booking freed; with --why its fairness record: every entry
    considered, its rank and match type, and why each one ranked above the offered entry was
    not offered."""
    from waitlist_tui.domain.fill.finder import offer_terms_now
    from waitlist_tui.domain.fill.knock_on import opening_detail
    from waitlist_tui.domain.fill.openings import get_opening

    open_db(ctx)
    opening = get_opening(opening_id)
    data = opening_detail(opening.id)
    data["offer_terms"] = offer_terms_now(opening)
    if with_why:
        from waitlist_tui.domain.fill.fairness import why

        data["why"] = why(opening.id).to_dict()

    def text(d: dict[str, Any]) -> None:
        zone = clinic_zone()
        click.echo(
            f"opening {d['id']} {d['provider']} {local_time(d['slot_start'], zone)} "
            f"{d['minutes']} min, {d['status']}"
            + (f", {d['workflow_type']}" if d.get("workflow_type") else "")
            + f" ({d['source']})"
        )
        freed = d.get("freed_by")
        if freed:
            click.echo(
                printable(
                    f"freed by booking {freed['booking_id'][:8]}: {freed['client']} moved up to "
                    f"{local_time(freed['booked_start'], zone)}, {freed['days_sooner']} days "
                    f"sooner (chain {freed['chain'][:8]})"
                )
            )
        for later in d.get("freed", []):
            click.echo(
                f"its booking freed opening {later['id'][:8]} "
                f"({local_time(later['slot_start'], zone)}, {later['status']})"
            )
        terms = d.get("offer_terms") or {}
        if terms.get("workflow"):
            click.echo(f"workflow: {terms['workflow']['why']}")
        _why_text(d)

    ctx.out(data, text)


@openings_group.command("skip")
@click.argument("opening_id")
@click.option("--entry", "entry_id", required=True, metavar="ID", help="The candidate to skip.")
@click.option("--reason", required=True, help="Why (kept in the opening's fairness record).")
@json_option
@click.pass_obj
def openings_skip(ctx: Ctx, opening_id: str, entry_id: str, reason: str) -> None:
    """Skip one candidate of an open opening, saying why: it is left out of this opening's
    offers and the reason shows in `openings show ID --why`."""
    from waitlist_tui.domain.fill.fairness import skip_candidate

    open_db(ctx)
    data = skip_candidate(opening_id, entry_id, reason, ctx.staff)
    ctx.out(data, lambda d: click.echo(f"skipped {d['entry_id'][:8]}: {d['reason']}"))

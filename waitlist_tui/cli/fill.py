"""The fill engine on the command line: appointments, openings, match, offers, notify, expire."""

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
from waitlist_tui.domain import vocab
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.timeutil import parse_date


@click.group("appointments")
def appointments_group() -> None:
    """The calendar: booked and cancelled appointments."""


@appointments_group.command("list")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Default: today (clinic time).")
@click.option("--provider", metavar="CODE")
@click.option("--status", type=click.Choice(["booked", "cancelled", "completed"]))
@json_option
@click.pass_obj
def appointments_list(ctx: Ctx, day: str | None, provider: str | None, status: str | None) -> None:
    from waitlist_tui.domain.openings import list_appointments

    open_db(ctx)
    items = [
        a.to_dict()
        for a in list_appointments(
            parse_date(day, "date") if day else None, provider, status=status
        )
    ]
    zone = clinic_zone()
    ctx.out(
        items,
        lambda d: table(
            ("id", "start", "provider", "service", "client", "status"),
            [
                (
                    a["id"][:8],
                    local_time(a["start"], zone),
                    a["provider"],
                    a["service"],
                    a["client"],
                    a["status"],
                )
                for a in d
            ],
        ),
    )


@appointments_group.command("cancel")
@click.argument("appointment_id")
@json_option
@click.pass_obj
def appointments_cancel(ctx: Ctx, appointment_id: str) -> None:
    """Cancel an appointment; its time opens for the waitlist."""
    from waitlist_tui.domain.openings import OpeningView, cancel_appointment

    open_db(ctx)
    appt, opening = cancel_appointment(appointment_id, ctx.staff)
    data = {
        "appointment_id": str(appt.id),
        "status": appt.status,
        "opening": OpeningView.of(opening).to_dict() if opening else None,
    }
    ctx.out(
        data,
        lambda d: click.echo(
            f"cancelled {d['appointment_id'][:8]}"
            + (f"; opening {d['opening']['id'][:8]} is open" if d["opening"] else "")
        ),
    )


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
) -> None:
    from waitlist_tui.domain.openings import OpeningView, add_opening

    open_db(ctx)
    view = OpeningView.of(
        add_opening(
            provider, start, minutes, ctx.staff, service, later, outside_hours_ok=outside_hours
        )
    )
    ctx.out(
        view.to_dict(),
        lambda d: click.echo(f"opening {d['id']} at {local_time(d['slot_start'], clinic_zone())}"),
    )


@openings_group.command("close")
@click.argument("opening_id")
@click.option("--note", default="", help="Why the slot is taken back.")
@json_option
@click.pass_obj
def openings_close(ctx: Ctx, opening_id: str, note: str) -> None:
    """Withdraw an opening: it closes and its live offers end (texted clients are told)."""
    from waitlist_tui.domain.offers import withdraw_opening

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
    from waitlist_tui.domain.openings import list_openings

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
        from waitlist_tui.domain.finder import offer_terms_now
        from waitlist_tui.domain.matching import candidates
        from waitlist_tui.domain.openings import get_opening

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
    from waitlist_tui.domain import ids
    from waitlist_tui.domain.availability import find_matching_slots
    from waitlist_tui.domain.errors import NotFound
    from waitlist_tui.domain.models import Entry

    try:
        entry = ids.resolve(Entry, entry_id, "waitlist request", field="entry")
    except NotFound:
        raise NotFound("waitlist request not found", field="entry") from None
    groups = [g.to_dict() for g in find_matching_slots(entry, limit=limit)]
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


def _offers_table(items: list[dict[str, Any]]) -> None:
    zone = clinic_zone()
    table(
        ("id", "status", "match", "client", "phone", "slot", "provider", "expires"),
        [
            (
                o["id"][:8],
                o["status"],
                o["match_type"],
                o["client"],
                o["phone"] or "",
                local_time(o["slot_start"], zone),
                o["provider"],
                local_time(o["expires_at"], zone),
            )
            for o in items
        ],
    )


@click.group("offers")
def offers_group() -> None:
    """Offers of openings to waiting entries, and their replies."""


@offers_group.command("send")
@click.option("--opening", "opening_id", required=True, metavar="ID")
@click.option("--broadcast", "top", type=int, metavar="N", help="Offer to the top N at once.")
@click.option("--entry", "entry_id", metavar="ID", help="Offer to this entry.")
@click.option("--hold", "hold", type=int, metavar="MIN", help="Hold minutes (clinic default).")
@json_option
@click.pass_obj
def offers_send(
    ctx: Ctx, opening_id: str, top: int | None, entry_id: str | None, hold: int | None
) -> None:
    """Sequential by default (the best candidate); --broadcast N for the top N."""
    from waitlist_tui.domain.offers import offer

    open_db(ctx)
    workflow = vocab.BROADCAST if top else None
    sent = [
        o.to_dict()
        for o in offer(
            opening_id, ctx.staff, workflow=workflow, top=top, entry_id=entry_id, hold_minutes=hold
        )
    ]
    if not sent:  # a 2000 with empty data read as success: say nothing went out
        from waitlist_tui.domain.errors import Conflict

        raise Conflict(
            "nobody on the waitlist can take this opening: no offer sent", field="opening"
        )
    ctx.out(sent, _offers_table)


@offers_group.command("list")
@click.option(
    "--status", type=click.Choice([*vocab.OFFER_STATUSES, "all"]), default="sent", show_default=True
)
@click.option("--opening", "opening_id", metavar="ID")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@click.option("--offset", type=int, default=0, show_default=True, help="Rows to skip.")
@json_option
@click.pass_obj
def offers_list(ctx: Ctx, status: str, opening_id: str | None, limit: int, offset: int) -> None:
    """Live offers soonest to expire first; any other status newest first."""
    from waitlist_tui.domain.offers import list_offers

    open_db(ctx)
    chosen = None if status == "all" else status
    found = list_offers(chosen, opening_id, limit=with_one_more(limit, offset), offset=offset)
    items, more = one_more([o.to_dict() for o in found], limit)
    order = "soonest to expire first" if chosen == vocab.OFFER_SENT else "newest first"

    def text(d: list[dict[str, Any]]) -> None:
        _offers_table(d)
        more_line(len(d), offset, more, order)

    ctx.out(items, text)


def _reply(name: str):
    @offers_group.command(name)
    @click.argument("offer_id")
    @click.option("--note", default="", help="What the client said.")
    @json_option
    @click.pass_obj
    def command(ctx: Ctx, offer_id: str, note: str) -> None:
        from waitlist_tui.domain import offers

        open_db(ctx)
        if name == "accept":
            reply = offers.accept(offer_id, ctx.staff)
        else:
            reply = getattr(offers, name)(offer_id, ctx.staff, note)

        def text(d: dict[str, Any]) -> None:
            o = d["offer"]
            click.echo(
                printable(
                    f"{o['status']}: {o['client']} "
                    f"{local_time(o['slot_start'], clinic_zone())} with {o['provider']}"
                )
            )
            for nxt in d["next_offers"]:
                click.echo(printable(f"next offer sent to {nxt['client']} ({nxt['id'][:8]})"))

        ctx.out(reply.to_dict(), text)

    command.__doc__ = {
        "accept": "The client takes it: books the slot.",
        "decline": "The client says no (sequential: the next candidate gets it).",
        "rescind": "Withdraw the offer.",
    }[name]
    return command


offers_accept, offers_decline, offers_rescind = (
    _reply(n) for n in ("accept", "decline", "rescind")
)


@offers_group.command("attempt")
@click.argument("offer_id")
@click.option(
    "--outcome",
    required=True,
    metavar="no_answer|voicemail|declined_by_phone",
    help="How the call went (checked by the domain, so --json gets the 4000 envelope).",
)
@click.option("--note", default="", help="What happened on the call.")
@json_option
@click.pass_obj
def offers_attempt(ctx: Ctx, offer_id: str, outcome: str, note: str) -> None:
    """Log a phone call about a sent offer (no answer may release it, per clinic setting)."""
    from waitlist_tui.domain.contact_attempts import OUTCOME_LABELS, log_attempt

    open_db(ctx)
    reply = log_attempt(offer_id, outcome, ctx.staff, note)

    def text(d: dict[str, Any]) -> None:
        o = d["offer"]
        click.echo(
            printable(
                f"{OUTCOME_LABELS[d['outcome']]} logged for {o['client']} "
                f"(calls: {d['attempts']['count']}); {_offer_now(o['status'])}"
            )
        )
        for nxt in d["next_offers"]:
            click.echo(printable(f"next offer sent to {nxt['client']} ({nxt['id'][:8]})"))

    ctx.out(reply.to_dict(), text)


def _offer_now(status: str) -> str:
    """Where the offer stands after a call ("offer sent" read as if a new one went out)."""
    if status == vocab.OFFER_SENT:
        return "the offer still waits for a reply"
    return f"the offer is now {status}"


@click.command("notify")
@click.option("--service", required=True, metavar="CODE")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD")
@json_option
@click.pass_obj
def notify_command(ctx: Ctx, service: str, day: str) -> None:
    """Waiting clients to tell about a free day for a service, with contact details."""
    from waitlist_tui.domain.matching import notify_candidates

    open_db(ctx)
    data = notify_candidates(service, parse_date(day, "date"))
    ctx.out(
        data,
        lambda d: (
            click.echo(d["message"]),
            table(
                ("entry", "client", "phone", "email"),
                [
                    (
                        c["id"][:8],
                        f"{c['client']['first_name']} {c['client']['last_name']}",
                        c["client"]["phone"] or "",
                        c["client"]["email"] or "",
                    )
                    for c in d["clients"]
                ],
            ),
        ),
    )


@click.command("expire")
@click.option(
    "--older-than-days",
    type=int,
    metavar="N",
    help="Also expire entries waiting longer than N days.",
)
@json_option
@click.pass_obj
def expire_command(ctx: Ctx, older_than_days: int | None) -> None:
    """Expire what is past its time (safe from cron every minute, while desks work)."""
    from waitlist_tui.domain.maintenance import expire

    open_db(ctx)
    counts = expire(older_than_days)
    ctx.out(
        counts, lambda d: click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items()))
    )

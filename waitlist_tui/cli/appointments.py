"""Appointments on the command line: the day's list, and a cancellation that opens its time."""

from __future__ import annotations

import click

from waitlist_tui.cli.output import (
    Ctx,
    clinic_zone,
    local_time,
    table,
)
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.timeutil import parse_date


@click.group("appointments")
def appointments_group() -> None:
    """The calendar: booked and cancelled appointments."""


@appointments_group.command("list")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Default: today (clinic time).")
@click.option("--from", "since", metavar="YYYY-MM-DD", help="First day (with --to: a range).")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="Last day, included.")
@click.option("--provider", metavar="CODE")
@click.option("--status", type=click.Choice(["booked", "cancelled", "completed"]))
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 5000))
@json_option
@click.pass_obj
def appointments_list(
    ctx: Ctx,
    day: str | None,
    since: str | None,
    until: str | None,
    provider: str | None,
    status: str | None,
    limit: int,
) -> None:
    """A day's appointments, or the days from --from to --to, in start order (a calendar's
    bookings show their title where the client would be)."""
    from waitlist_tui.domain.errors import ValidationError
    from waitlist_tui.domain.fill.openings import list_appointments

    if day and (since or until):
        raise ValidationError("give --date, or --from and --to, not both", field="date")
    open_db(ctx)
    first = day or since
    last = parse_date(until, "to") if until else None
    items = [
        a.to_dict()
        for a in list_appointments(
            parse_date(first, "from" if since else "date") if first else None,
            provider,
            status=status,
            limit=limit,
            until=last,
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


@appointments_group.command("add")
@click.option("--client", "client_ref", required=True, metavar="ID", help="Client id or prefix.")
@click.option("--provider", required=True, metavar="CODE")
@click.option("--service", required=True, metavar="CODE")
@click.option("--start", required=True, metavar="ISO-LOCAL", help="e.g. 2026-11-24T09:00")
@click.option("--minutes", type=int, help="Default: the service's length.")
@click.option("--later", is_flag=True, help="An ambiguous time (clocks back) means the later.")
@json_option
@click.pass_obj
def appointments_add(
    ctx: Ctx,
    client_ref: str,
    provider: str,
    service: str,
    start: str,
    minutes: int | None,
    later: bool,
) -> None:
    """Book a client directly (a time the desk agreed on the phone)."""
    from waitlist_tui.domain.catalog.clinics import get_clinic
    from waitlist_tui.domain.fill.booking import add_appointment

    open_db(ctx)
    view = add_appointment(
        get_clinic(), client_ref, provider, service, start, ctx.staff, minutes, later
    )
    zone = clinic_zone()
    ctx.out(
        view.to_dict(),
        lambda d: click.echo(
            f"booked {d['id'][:8]}: {d['client']} with {d['provider']} for {d['service']}, "
            f"{local_time(d['start'], zone)}"
        ),
    )


@appointments_group.command("cancel")
@click.argument("appointment_id")
@json_option
@click.pass_obj
def appointments_cancel(ctx: Ctx, appointment_id: str) -> None:
    """Cancel an appointment; its time opens for the waitlist."""
    from waitlist_tui.domain.fill.openings import OpeningView, cancel_appointment

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

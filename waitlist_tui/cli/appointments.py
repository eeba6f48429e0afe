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
@click.option("--provider", metavar="CODE")
@click.option("--status", type=click.Choice(["booked", "cancelled", "completed"]))
@json_option
@click.pass_obj
def appointments_list(ctx: Ctx, day: str | None, provider: str | None, status: str | None) -> None:
    from waitlist_tui.domain.fill.openings import list_appointments

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

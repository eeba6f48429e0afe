"""`waitlist-tui events ...`: classes and group sessions, their seats and waitlists."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx, local_time, table
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.classes import enrolments, instances, seat_offers, seats, statuses
from waitlist_tui.domain.classes import schedule as event_schedule
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.timeutil import parse_date

LIST_COLUMNS = ("id", "starts", "class", "provider", "enrolled", "free", "waitlist")


def _said(data: dict[str, Any], time_zone: str) -> str:
    """One line for an enrolment: who, which class, and where they stand."""
    who = f"{data['client']['first_name']} {data['client']['last_name']}"
    when = local_time(data["starts_at"], time_zone)
    line = f"{data['status']} {data['id'][:8]}  {who}  {data['service_code']} {when}"
    if data["position"]:
        line += f"  (waitlist position {data['position']})"
    if data["status"] == statuses.OFFERED and data["expires_at"]:
        line += f"  (seat held until {local_time(data['expires_at'], time_zone)})"
    return printable(line)


def _show_change(data: dict[str, Any]) -> None:
    """The enrolment a command changed, and whom it promoted from the waitlist."""
    time_zone = get_clinic().time_zone
    click.echo(_said(data, time_zone))
    for promoted in data["promoted"]:
        click.echo(f"  promoted from the waitlist: {_said(promoted, time_zone)}")


@click.group("events")
def events_group() -> None:
    """Classes and group sessions: seats, enrolments and waitlists."""


@events_group.command("list")
@click.option("--from", "from_date", metavar="YYYY-MM-DD", help="From this clinic date on.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_obj
def list_(ctx: Ctx, from_date: str | None, limit: int) -> None:
    """Upcoming scheduled classes with their seats and waitlists."""
    open_db(ctx)
    clinic = get_clinic()
    day = parse_date(from_date, "from") if from_date else None
    items = instances.list_instances(clinic, from_date=day, limit=limit)
    data = {"items": [i.to_dict() for i in items]}

    def text(d: dict[str, Any]) -> None:
        rows = [
            [
                i["id"][:8],
                local_time(i["starts_at"], clinic.time_zone),
                i["service_code"],
                i["provider"] or "",
                f"{i['enrolled'] + i['offered']}/{i['capacity']}",
                i["seats_free"],
                i["waitlist_length"],
            ]
            for i in d["items"]
        ]
        table(LIST_COLUMNS, rows, f"{len(rows)} upcoming classes")

    ctx.out(data, text)


@events_group.command("add")
@click.option("--service", required=True, metavar="CODE", help="An event (class) service.")
@click.option("--start", required=True, metavar="ISO-LOCAL", help="e.g. 2026-11-26T18:00")
@click.option("--capacity", type=int, required=True, help="Seats, 1-500.")
@click.option("--provider", metavar="CODE", help="Who leads it (must be free then).")
@click.option("--later", is_flag=True, help="The later of a time that occurs twice (DST).")
@json_option
@click.pass_obj
def add(
    ctx: Ctx, service: str, start: str, capacity: int, provider: str | None, later: bool
) -> None:
    """Schedule a class or group session; it takes the service's length."""
    open_db(ctx)
    made = event_schedule.schedule(service, start, capacity, ctx.staff, provider, later)

    def text(d: dict[str, Any]) -> None:
        time_zone = get_clinic().time_zone
        click.echo(
            f"Scheduled {d['service_code']} {local_time(d['starts_at'], time_zone)} "
            f"({d['capacity']} seats) {d['id'][:8]}"
        )

    ctx.out(made.to_dict(), text)


@events_group.command("show")
@click.argument("instance_id")
@json_option
@click.pass_obj
def show(ctx: Ctx, instance_id: str) -> None:
    """A class with its enrolled clients, held seats and waitlist in order."""
    open_db(ctx)
    instance, people = enrolments.roster(instance_id)
    data = {**instance.to_dict(), "enrolments": [e.to_dict() for e in people]}

    def text(d: dict[str, Any]) -> None:
        time_zone = get_clinic().time_zone
        click.echo(
            f"{d['service_code']} {local_time(d['starts_at'], time_zone)}: "
            f"{d['enrolled'] + d['offered']}/{d['capacity']} seats taken, "
            f"{d['waitlist_length']} waiting"
        )
        for enrolment in d["enrolments"]:
            click.echo(f"  {_said(enrolment, time_zone)}")

    ctx.out(data, text)


@events_group.command("enrol")
@click.argument("instance_id", metavar="INSTANCE")
@click.option("--client", "client_id", required=True, metavar="ID", help="Client id or prefix.")
@json_option
@click.pass_obj
def enrol(ctx: Ctx, instance_id: str, client_id: str) -> None:
    """Take a free seat in a class (a full class: use `events join`)."""
    open_db(ctx)
    view = seats.enrol(instance_id, client_id, ctx.staff)
    ctx.out(view.to_dict(), _show_change)


@events_group.command("join")
@click.argument("instance_id", metavar="INSTANCE")
@click.option("--client", "client_id", required=True, metavar="ID", help="Client id or prefix.")
@json_option
@click.pass_obj
def join(ctx: Ctx, instance_id: str, client_id: str) -> None:
    """Put a client on a full class's waitlist."""
    open_db(ctx)
    view = seats.join_waitlist(instance_id, client_id, ctx.staff)
    ctx.out(view.to_dict(), _show_change)


@events_group.command("cancel")
@click.argument("enrolment_id", metavar="ENROLMENT")
@json_option
@click.pass_obj
def cancel(ctx: Ctx, enrolment_id: str) -> None:
    """Cancel an enrolment; a freed seat goes to the first on the waitlist."""
    open_db(ctx)
    view = seats.cancel_enrolment(enrolment_id, ctx.staff)
    ctx.out(view.to_dict(), _show_change)


@events_group.command("accept")
@click.argument("enrolment_id", metavar="ENROLMENT")
@json_option
@click.pass_obj
def accept(ctx: Ctx, enrolment_id: str) -> None:
    """The client takes the seat offered to them."""
    open_db(ctx)
    view = seat_offers.accept_seat(enrolment_id, ctx.staff)
    ctx.out(view.to_dict(), _show_change)


@events_group.command("decline")
@click.argument("enrolment_id", metavar="ENROLMENT")
@json_option
@click.pass_obj
def decline(ctx: Ctx, enrolment_id: str) -> None:
    """The client turns the offered seat down; the next on the waitlist is promoted."""
    open_db(ctx)
    view = seat_offers.decline_seat(enrolment_id, ctx.staff)
    ctx.out(view.to_dict(), _show_change)

"""Clinic set-up and the catalogue: `setup`, `clinic show`, `services list`, `providers list`,
`clients list`."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx, pairs, table
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.catalog import clients, clinics
from waitlist_tui.domain.catalog.setup import setup_from_file


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@click.command("setup")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def setup_command(ctx: Ctx, file: str) -> None:
    """Create or update the clinic, its services and providers from a TOML file."""
    open_db(ctx, demo_fallback=False)
    result = setup_from_file(file, ctx.staff)
    for warning in result.get("warnings", []):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    ctx.out(
        result,
        lambda d: click.echo(
            f"{'created' if d['created'] else 'updated'} clinic {d['clinic']}: "
            f"{d['services']} services, {d['providers']} providers"
        ),
    )


@click.group("clinic")
def clinic_group() -> None:
    """The clinic's settings."""


@clinic_group.command("show")
@json_option
@click.pass_obj
def clinic_show(ctx: Ctx) -> None:
    open_db(ctx)
    ctx.out(clinics.clinic_dict(clinics.get_clinic()), pairs)


@click.group("services")
def services_group() -> None:
    """What can be booked."""


@services_group.command("list")
@json_option
@click.pass_obj
def services_list(ctx: Ctx) -> None:
    open_db(ctx)
    items = [clinics.service_dict(s) for s in clinics.services(clinics.get_clinic())]
    ctx.out(
        page(items, len(items), len(items), 0),
        lambda d: table(
            ("code", "name", "minutes", "type", "kind"),
            [
                (s["code"], s["name"], s["duration_minutes"], s["appointment_type"], s["kind"])
                for s in d["items"]
            ],
        ),
    )


@click.group("providers")
def providers_group() -> None:
    """Who delivers the services."""


def _hours(hours: dict[str, list[list[str]]]) -> str:
    return "; ".join(
        f"{day[:3].title()} " + ",".join(f"{a}-{b}" for a, b in windows)
        for day, windows in hours.items()
    )


@providers_group.command("list")
@json_option
@click.pass_obj
def providers_list(ctx: Ctx) -> None:
    open_db(ctx)
    clinic = clinics.get_clinic()
    codes = clinics.provider_service_codes(clinic)
    items = [clinics.provider_dict(p, codes.get(p.id, [])) for p in clinics.providers(clinic)]
    ctx.out(
        page(items, len(items), len(items), 0),
        lambda d: table(
            ("code", "name", "services", "hours"),
            [
                (p["code"], p["name"], " ".join(p["services"]), _hours(p["hours"]))
                for p in d["items"]
            ],
        ),
    )


@click.group("clients")
def clients_group() -> None:
    """The people on the waitlist."""


@clients_group.command("list")
@click.option("--search", metavar="TEXT", help="Name, phone or email.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@json_option
@click.pass_obj
def clients_list(ctx: Ctx, search: str | None, limit: int, offset: int) -> None:
    open_db(ctx)
    rows, total = clients.list_clients(clinics.get_clinic(), search, limit, offset)
    items = [clients.client_dict(c) for c in rows]
    ctx.out(
        page(items, total, limit, offset),
        lambda d: table(
            ("id", "name", "phone", "email"),
            [
                (c["id"][:8], f"{c['first_name']} {c['last_name']}", c["phone"], c["email"])
                for c in d["items"]
            ],
            f"{len(d['items'])} of {d['total']:,}",
        ),
    )


@clients_group.command("update")
@click.argument("client_id")
@click.option(
    "--consent-sms", metavar="YES|NO", help="May we text them? yes/no, true/false, 1/0, on/off."
)
@click.option("--consent-email", metavar="YES|NO", help="May we email them? Same values.")
@json_option
@click.pass_obj
def clients_update(
    ctx: Ctx, client_id: str, consent_sms: str | None, consent_email: str | None
) -> None:
    """Record what a client said about being texted or emailed (audited)."""
    open_db(ctx)
    given = (("consent_sms", consent_sms), ("consent_email", consent_email))
    payload = {k: v for k, v in given if v is not None}
    ctx.out(clients.client_dict(clients.update_consent(client_id, payload, ctx.staff)), pairs)


@clients_group.command("erase")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask: erase (for scripts).")
@json_option
@click.pass_obj
def clients_erase(ctx: Ctx, client_id: str, yes: bool) -> None:
    """Erase a client's personal data on request: name, phone, email, notes, message texts,
    and the same in the audit trail. The rows stay (stats and trail read the same); a
    client with a waiting or offered entry is refused. Cannot be undone."""
    from waitlist_tui.domain.errors import ValidationError
    from waitlist_tui.domain.privacy import erasure

    open_db(ctx)
    if not yes:
        if ctx.json:
            raise ValidationError("--json needs --yes to erase (nobody to ask)", field="yes")
        who = erasure.preview(client_id)
        question = (
            f"Erase the personal data of {who['name']} ({who['client'][:8]}, "
            f"{who['entries']} entries)? This cannot be undone"
        )
        if not click.confirm(question, default=False):
            click.echo("nothing erased")
            return
    ctx.out(
        erasure.erase_client(client_id, ctx.staff),
        lambda d: click.echo(
            f"client {d['client'][:8]} erased: {d['entries']} entries, {d['messages']} "
            f"messages, {d['replies']} replies cleared; {d['audit_rows']} audit rows scrubbed"
        ),
    )

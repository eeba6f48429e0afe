"""Offers on the command line (send, list, accept, decline, rescind, attempt), and the two
sweeps that move them on: `notify` and `expire`."""

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
@click.option(
    "--sequential", is_flag=True, help="One at a time, whatever the clinic's lead-time rule says."
)
@json_option
@click.pass_obj
def offers_send(
    ctx: Ctx,
    opening_id: str,
    top: int | None,
    entry_id: str | None,
    hold: int | None,
    sequential: bool,
) -> None:
    """The clinic's workflow for the slot's lead time ([[offer_rules]]; else its default,
    sequential: the best candidate); --broadcast N for the top N, --sequential for one."""
    from waitlist_tui.domain.fill.slot_offers import offer_slot

    open_db(ctx)
    workflow = vocab.BROADCAST if top else (vocab.SEQUENTIAL if sequential else None)
    # nobody to offer it to is a 4090 (a 2000 with empty data read as success)
    sent = offer_slot(
        opening_id, ctx.staff, workflow=workflow, top=top, entry_id=entry_id, hold_minutes=hold
    )
    ctx.out([o.to_dict() for o in sent], _offers_table)


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
    from waitlist_tui.domain.fill.offers import list_offers

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
        from waitlist_tui.domain.fill import offers

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
            freed = d.get("knock_on")
            if freed:
                opened = (
                    f"opening {freed['opening_id'][:8]}"
                    if freed["opening_id"]
                    else "no opening (past the notice)"
                )
                click.echo(
                    f"knock-on: later appointment released ({freed['days_sooner']} days "
                    f"sooner): {opened}"
                )
                for nxt in freed["offers"]:
                    click.echo(printable(f"  offered to {nxt['client']} ({nxt['id'][:8]})"))

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
    from waitlist_tui.domain.fill.contact_attempts import OUTCOME_LABELS, log_attempt

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
    from waitlist_tui.domain.fill.matching import notify_candidates

    open_db(ctx)
    data = notify_candidates(service, parse_date(day, "date"))

    def text(d: dict[str, Any]) -> None:
        click.echo(d["message"])
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
        )

    ctx.out(data, text)


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
    from waitlist_tui.domain.fill.expiry import expire

    open_db(ctx)
    counts = expire(older_than_days)
    ctx.out(
        counts, lambda d: click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items()))
    )

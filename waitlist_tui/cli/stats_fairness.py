"""`stats fairness` and `stats lead-time`: the manager's fairness report and what each band
of lead time costs in messages (domain/stats/fairness.py)."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx, clinic_zone, local_time, table
from waitlist_tui.cli.runtime import json_option, open_db

PERIOD = (
    click.option("--from", "--since", "since", metavar="YYYY-MM-DD", help="First clinic date."),
    click.option("--to", "--until", "until", metavar="YYYY-MM-DD", help="Last clinic date."),
)


def _period(d: dict[str, Any]) -> str:
    if not (d["since"] or d["until"]):
        return "all time"
    return f"{d['since'] or 'the start'} to {d['until'] or 'today'}"


def _fairness_text(d: dict[str, Any]) -> None:
    click.echo(f"Fairness, {_period(d)}: {d['rankings']} rankings recorded")
    click.echo()
    click.echo(f"Offers that went past a waiting candidate who fitted: {d['passed_over_count']}")
    for item in d["passed_over"]:
        offered = ", ".join(f"#{o['rank']} {o['client']}" for o in item["offered"])
        at = local_time(item["at"], clinic_zone())
        click.echo(f"  {at} opening {item['opening_id'][:8]}: offered to {offered}")
        for p in item["passed_over"]:
            click.echo(f"    past #{p['rank']} {p['client']}: {p['reason']}")
    click.echo()
    waits = d["wait_before_first_offer"]
    for name, title in (
        ("by_priority", "priority"),
        ("by_service", "service"),
        ("by_provider", "provider"),
    ):
        table(
            (title, "entries", "median days"),
            [(r["key"], r["entries"], r["median_days"]) for r in waits[name]],
            f"Wait before the first offer, by {title}",
        )
        click.echo()
    never = d["never_offered"]
    click.echo(
        f"Waiting over {d['wait_days']} days, fitted an opening, never offered: {never['count']}"
    )
    for e in never["items"]:
        click.echo(
            f"  {e['client']} (priority {e['priority']}, {e['waited_days']} days, "
            f"fitted {e['fitted_openings']} opening(s))"
        )


def _lead_text(d: dict[str, Any]) -> None:
    source = "the clinic's offer rules" if d["configured"] else "default bands (no offer rules)"
    table(
        ("lead time", "rule", "openings", "filled", "fill%", "offers", "per fill", "fill min"),
        [
            (
                b["band"],
                (
                    f"{b['rule']['workflow'][:3]}"
                    + (f" top {b['rule']['top']}" if b["rule"]["top"] else "")
                    if b["rule"]
                    else "-"
                ),
                b["openings"],
                b["filled"],
                b["fill_rate"],
                b["offers"],
                b["offers_per_fill"],
                b["median_minutes_to_fill"],
            )
            for b in d["bands"]
        ],
        f"By lead time, {_period(d)} ({source})",
    )


@click.command("fairness")
@PERIOD[0]
@PERIOD[1]
@click.option(
    "--wait-days",
    type=int,
    default=30,
    show_default=True,
    help="List entries waiting longer than this that fitted an opening but were never offered.",
)
@json_option
@click.pass_obj
def fairness_command(ctx: Ctx, since: str | None, until: str | None, wait_days: int) -> None:
    """Offers made past a waiting candidate who fitted (and why), the median wait before a
    first offer by priority, service and provider, and long waiters never offered."""
    from waitlist_tui.domain.stats.fairness import fairness_report

    open_db(ctx)
    ctx.out(fairness_report(None, since, until, wait_days), _fairness_text)


@click.command("lead-time")
@PERIOD[0]
@PERIOD[1]
@json_option
@click.pass_obj
def lead_time_command(ctx: Ctx, since: str | None, until: str | None) -> None:
    """Fill rate, offers per fill and time to fill by lead-time band (slot start minus the
    first offer), in the bands of the clinic's [[offer_rules]]."""
    from waitlist_tui.domain.stats.fairness import lead_time_report

    open_db(ctx)
    ctx.out(lead_time_report(None, since, until), _lead_text)

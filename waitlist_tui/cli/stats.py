"""`waitlist-tui stats`: how well the waitlist fills the calendar."""

from __future__ import annotations

from typing import Any

import click

from waitlist_tui.cli.output import Ctx, table
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.stats.report import stats, weekly_caption

# Narrow enough for 80 columns; the JSON has every figure. A provider's entries are the ones
# booked with them, so their table shows bookings, not entries and conversion.
SERVICE_COLUMNS = ("service", "entries", "booked", "conv%", "wait d", "sooner", "accept%", "fill%")
PROVIDER_COLUMNS = (
    "provider",
    "booked",
    "wait d",
    "sooner",
    "offers",
    "accept%",
    "fill%",
    "fill m",
)


def _service_row(row: dict[str, Any]) -> list[Any]:
    return [
        row["service"],
        f"{row['total']:,}",
        f"{row['counts']['booked']:,}",
        row["conversion_rate"],
        row["average_wait_days"],
        row["days_sooner"]["average"],
        row["offers"]["acceptance_rate"],
        row["openings"]["fill_rate"],
    ]


def _provider_row(row: dict[str, Any]) -> list[Any]:
    return [
        row["provider"],
        f"{row['counts']['booked']:,}",
        row["average_wait_days"],
        row["days_sooner"]["average"],
        f"{row['offers']['sent']:,}",
        row["offers"]["acceptance_rate"],
        row["openings"]["fill_rate"],
        row["openings"]["median_fill_minutes"] if row["openings"]["filled"] else "–",
    ]


def _counts(pairs: dict[str, int]) -> str:
    return " · ".join(f"{name} {count:,}" for name, count in pairs.items())


def _summary(d: dict[str, Any]) -> None:
    period = "all time"
    if d["since"] or d["until"]:
        period = f"{d['since'] or 'the start'} to {d['until'] or 'today'}"
    who = f", provider {d['provider']}" if d["provider"] else ""
    offers, openings, sooner = d["offers"], d["openings"], d["days_sooner"]
    click.echo(
        f"{d['clinic']}, {period}{who} (entries by the day they were added, {d['time_zone']})"
    )
    if d["provider"]:  # the app's cards say the same: "Waiting 0, Converted 100%" misled
        click.echo(
            f"Entries   booked {d['counts']['booked']:,} · average wait "
            f"{d['average_wait_days']} days (booked entries only: a waiting one has no "
            "provider yet)"
        )
    else:
        click.echo(f"Entries   {d['total']:,}: {_counts(d['counts'])}")
        click.echo(
            f"          active {d['active_count']:,} · conversion {d['conversion_rate']}% · "
            f"average wait {d['average_wait_days']} days"
        )
    click.echo(
        f"Sooner    {sooner['count']:,} booked before their original appointment: "
        f"{sooner['average']} days sooner on average, median {sooner['median']}"
    )
    answers = {k: offers[k] for k in ("accepted", "declined", "expired", "rescinded", "pending")}
    click.echo(
        f"Offers    {offers['sent']:,} sent: {_counts(answers)} · "
        f"acceptance {offers['acceptance_rate']}%"
    )
    click.echo(
        f"Openings  {openings['total']:,}: filled {openings['filled']:,} "
        f"({openings['fill_rate']}%) · open {openings['open']:,} · closed {openings['closed']:,}"
        + (f" · median {openings['median_fill_minutes']} min to fill" if openings["filled"] else "")
    )
    click.echo()
    table(SERVICE_COLUMNS, [_service_row(row) for row in d["by_service"]], "By service")
    click.echo()
    table(
        PROVIDER_COLUMNS,
        [_provider_row(row) for row in d["by_provider"]],
        "By provider (entries once booked with them)",
    )
    click.echo()
    # a line of its own: as the narrow table's title it wrapped into a column of words
    click.echo(weekly_caption(d["provider"]))
    table(
        ("week of", "added", "booked", "filled"),
        [
            [w["week_start"], w["entries_added"], w["entries_booked"], w["openings_filled"]]
            for w in d["weekly"]
        ],
    )


@click.group("stats", invoke_without_command=True)
@click.option("--since", metavar="YYYY-MM-DD", help="First clinic date of the period.")
@click.option("--until", metavar="YYYY-MM-DD", help="Last clinic date of the period.")
@click.option("--provider", metavar="CODE", help="Only this provider's figures.")
@json_option
@click.pass_context
def stats_command(
    click_ctx: click.Context, since: str | None, until: str | None, provider: str | None
) -> None:
    """Waitlist figures: statuses, conversion, waits, offers, openings, per service and
    provider, and the last 12 weeks. The period counts entries by when they were added.
    `stats knock-on`, `stats demand`, `stats fairness` and `stats lead-time` are the
    managers' reports."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Ctx = click_ctx.obj
    open_db(ctx)
    ctx.out(stats(get_clinic(), since, until, provider).to_dict(), _summary)


def _chains_text(d: dict[str, Any]) -> None:
    click.echo(
        f"Knock-on  {d['moved_up']:,} appointments moved up in {d['count']:,} chains, "
        f"{d['days_sooner']} days sooner in all · longest chain {d['longest']} · "
        f"released times booked again {d['refilled']:,}"
    )
    if d["chains"]:
        click.echo()
        table(
            ("chain", "started", "length", "days sooner", "rebooked", "open"),
            [
                (
                    c["chain"][:8],
                    c["started_on"],
                    c["length"],
                    c["days_sooner"],
                    c["refilled"],
                    c["open"],
                )
                for c in d["chains"]
            ],
        )


@stats_command.command("knock-on")
@click.option("--since", metavar="YYYY-MM-DD", help="Chains with releases from this date on.")
@json_option
@click.pass_obj
def knock_on_command(ctx: Ctx, since: str | None) -> None:
    """Knock-on chains: appointments moved up because a client took an earlier slot and
    gave their later one back; each chain's length and days sooner summed over it."""
    from waitlist_tui.domain.stats.chains import knock_on_chains
    from waitlist_tui.domain.timeutil import parse_date

    open_db(ctx)
    start = parse_date(since, "since") if since else None
    ctx.out(knock_on_chains(get_clinic(), start).to_dict(), _chains_text)


def _demand_text(d: dict[str, Any], rows: int) -> None:
    click.echo(
        f"{d['clinic']}, {d['as_of']}: {d['waiting_total']:,} waiting, "
        f"{d['no_free_slot_total']:,} with no free slot in their dates "
        f"(the next {d['horizon_days']} days)"
    )
    for s in d["suggestions"]:
        click.echo(f"  suggestion: {s['text']}")
    click.echo()
    cells = d["cells"][:rows]
    table(
        (
            "service",
            "provider",
            "day",
            "part",
            "waiting",
            "no slot",
            "median wait d",
            f"ended unoffered ({d['ended_without_offer_days']} d)",
        ),
        [
            (
                c["service"],
                c["provider"],
                c["weekday"],
                c["part_of_day"],
                f"{c['waiting']:,}",
                f"{c['no_free_slot']:,}",
                c["median_wait_days"],
                c["ended_without_offer"],
            )
            for c in cells
        ],
        f"Where demand goes unmet (worst {len(cells)} of {len(d['cells'])})",
    )


@stats_command.command("demand")
@click.option("--service", metavar="CODE", help="Only this service.")
@click.option(
    "--rows",
    type=click.IntRange(1, 10_000),
    default=25,
    show_default=True,
    help="Rows of the text table (JSON and CSV have them all).",
)
@click.option("--csv", "as_csv", is_flag=True, help="The table as CSV (stdout, or --out).")
@click.option("--out", "out_file", metavar="FILE", help="Write the CSV here (created 0600).")
@json_option
@click.pass_obj
def demand_command(
    ctx: Ctx, service: str | None, rows: int, as_csv: bool, out_file: str | None
) -> None:
    """Where demand goes unmet: per service x provider (or any) x weekday x part of day, the
    waiting entries pointing there, those with no free slot in their dates, their median
    wait, those that ended without an offer; and the extra hours that would fit the most."""
    from waitlist_tui.domain.private_files import open_private
    from waitlist_tui.domain.stats.demand import demand

    open_db(ctx)
    found = demand(get_clinic(), service)
    if out_file or as_csv:
        text = found.to_csv()
        if out_file:
            with open_private(out_file, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            ctx.out(
                {"file": out_file, "rows": len(found.cells)},
                lambda d: click.echo(f"wrote {d['rows']:,} rows to {d['file']}"),
            )
        else:
            click.echo(text, nl=False)
        return
    ctx.out(found.to_dict(), lambda d: _demand_text(d, rows))


def _register() -> None:
    from waitlist_tui.cli.stats_fairness import fairness_command, lead_time_command

    stats_command.add_command(fairness_command)
    stats_command.add_command(lead_time_command)


_register()

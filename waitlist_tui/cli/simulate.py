"""`waitlist-tui simulate`: a month of the clinic on the real engine, on a copy, per setting."""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from waitlist_tui.cli.output import Ctx, table
from waitlist_tui.cli.runtime import json_option
from waitlist_tui.domain.whatif.shown import shown

# --grid short names -> (table, key) of a settings file
GRID_KEYS = {
    "hold": ("clinic", "offer_hold_minutes"),
    "workflow": ("clinic", "default_workflow"),
    "top": ("clinic", "broadcast_top_n"),
    "notice": ("clinic", "min_notice"),
    "spacing": ("clinic", "min_hours_between_offers"),
    "cap": ("messages", "max_offers_per_day"),
    "quiet": ("messages", "quiet_hours"),
}
# --grid rules=none,clinic: without the clinic's offer rules by lead time (which otherwise
# choose the workflow, hold and size of the openings they cover) or with them
RULES_KEY, RULES_VALUES = "rules", ("none", "clinic")
COLUMNS = (
    ("setting", "name"),
    ("openings", "openings"),
    ("filled %", "filled_pct"),
    ("offers/fill", "offers_per_fill"),
    ("accept %", "acceptance_pct"),
    ("messages", "messages_sent"),
    ("median fill", "median_fill_minutes"),
    ("days sooner", "days_sooner_median"),
    ("never offered", "never_offered"),
    ("fairness skips", "fairness_skips"),
)


def grid_tables(specs: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """`hold=30,60 top=3,5` -> every combination, each a settings table with its name."""
    axes: list[list[tuple[str, str, Any, str]]] = []
    for spec in specs:
        key, _, values = spec.partition("=")
        key = key.strip().lower()
        if key == RULES_KEY:
            chosen = [v.strip() for v in values.split(",")]
            if not values or any(v not in RULES_VALUES for v in chosen):
                raise click.BadParameter(
                    f"{spec!r}: rules={','.join(RULES_VALUES)}", param_hint="--grid"
                )
            axes.append([("", "offer_rules", v, key) for v in chosen])
            continue
        where = GRID_KEYS.get(key) or tuple(key.split(".", 1))
        if len(where) != 2 or not values:
            raise click.BadParameter(
                f"{spec!r}: KEY=V1,V2 with KEY one of {', '.join(GRID_KEYS)} or TABLE.KEY",
                param_hint="--grid",
            )
        axis = []
        for raw in values.split(","):
            raw = raw.strip()
            value: Any = int(raw) if raw.isdigit() else raw
            axis.append((where[0], where[1], value, key))
        axes.append(axis)
    out = []
    for combo in itertools.product(*axes):
        data: dict[str, Any] = {}
        for section, name, value, _ in combo:
            if name == "offer_rules":
                if value == "none":
                    data["offer_rules"] = []
                continue
            data.setdefault(section, {})[name] = value
        label = " ".join(f"{typed}={v}" for _, _, v, typed in combo)
        out.append((label[:60], data))
    return out


def chart(outcomes: list[dict[str, Any]], width: int = 40) -> list[str]:
    """Bars per setting: filled % of openings, and offers per fill (scaled to the largest)."""
    lines = []
    name_w = max((len(o["name"]) for o in outcomes), default=0)
    most = max((o["offers_per_fill"] or 0 for o in outcomes), default=0) or 1
    for o in outcomes:
        filled = round(width * o["filled_pct"] / 100)
        lines.append(
            f"{o['name']:<{name_w}}  filled  {'█' * filled:<{width}} "
            f"{shown('filled_pct', o['filled_pct'])}%"
        )
        per = o["offers_per_fill"]
        bar = round(width * (per or 0) / most)
        lines.append(
            f"{'':<{name_w}}  offers  {'▒' * bar:<{width}} {shown('offers_per_fill', per)} per fill"
        )
    return lines


@click.command("simulate")
@click.option(
    "--settings",
    "settings_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A settings file ([clinic] / [messages]) to try; repeat to compare.",
)
@click.option("--grid", multiple=True, metavar="KEY=V1,V2", help="Try every combination.")
@click.option("--days", type=int, default=30, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--model", "model_file", type=click.Path(dir_okay=False), help="Behaviour model.")
@click.option("--demo", "demo_entries", type=int, help="Simulate the demo clinic (N entries).")
@click.option("--progress", is_flag=True, help="Progress as JSON lines on stderr.")
@json_option
@click.pass_obj
def simulate_command(
    ctx: Ctx,
    settings_files: tuple[str, ...],
    grid: tuple[str, ...],
    days: int,
    seed: int,
    model_file: str | None,
    demo_entries: int | None,
    progress: bool,
) -> None:
    """Run N days of the clinic (a copy: the live database is only read) under each setting,
    on the same drawn cancellations, arrivals and client answers, and compare the results."""
    from waitlist_tui.domain.catalog.tuning import load_tuning, parse_tuning
    from waitlist_tui.domain.whatif import behaviour
    from waitlist_tui.domain.whatif.compare import compare

    model = behaviour.load(model_file)
    tunings = [load_tuning(p) for p in settings_files]
    if grid:
        bases = tunings or [parse_tuning({}, "")]
        tunings = []
        for base in bases:
            for name, data in grid_tables(grid):
                merged = {
                    "name": f"{base.name} {name}".strip()[:60],
                    "clinic": {**base.clinic, **data.get("clinic", {})},
                    "messages": {**base.messages, **data.get("messages", {})},
                }
                rules = data.get("offer_rules", base.offer_rules)
                if rules is not None:
                    merged["offer_rules"] = rules
                tunings.append(parse_tuning(merged))

    def report(i: int, fraction: float) -> None:
        line = {"setting": i, "of": max(1, len(tunings)), "done": round(fraction, 3)}
        print(json.dumps(line), file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="waitlist-demo-") as scratch:
        source = ctx.db_url
        if demo_entries is not None:
            from waitlist_tui.demo.scratch import demo_file

            source = demo_file(Path(scratch) / "demo.db", demo_entries, seed)
        result = compare(
            source,
            tunings,
            seed=seed,
            days=days,
            model=model,
            progress=report if progress else None,
        )
    data = result.to_dict()

    def text(d: dict[str, Any]) -> None:
        w = d["world"]
        click.echo(
            f"{days} days from {w['start'][:16]} UTC, seed {w['seed']}: {w['cancellations']} "
            f"cancellations drawn from {w['booked_in_window']} bookings, "
            f"{w['arrivals']} new entries"
        )
        settings = d["settings"]
        table(
            ["", *(o["name"] for o in settings)],
            [[label, *(shown(k, o[k]) for o in settings)] for label, k in COLUMNS[1:]],
        )
        for line in chart(d["settings"]):
            click.echo(line)

    ctx.out(data, text)

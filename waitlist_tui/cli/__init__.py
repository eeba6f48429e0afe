"""The `waitlist-tui` command: NOUN VERB subcommands over the domain services, the TUI by default.

Scripts rely on this contract (DESIGN.md section 6): `--json` prints the
{"code", "message", "data"} envelope, domain errors exit non-zero.
"""

from __future__ import annotations

import click

from waitlist_tui.cli.demo import open_tui
from waitlist_tui.cli.runtime import WaitlistGroup, root_options
from waitlist_tui.startup import started

# Each subcommand is imported when it runs (or for --help): the app's start imports none.
COMMANDS = {
    "setup": "catalog:setup_command",
    "demo": "demo:demo_command",
    "clinic": "catalog:clinic_group",
    "services": "catalog:services_group",
    "providers": "catalog:providers_group",
    "clients": "catalog:clients_group",
    "entries": "entries:entries_group",
    "events": "events:events_group",
    "export": "exchange:export_command",
    "import": "exchange:import_command",
    "stats": "stats:stats_command",
    "maintenance": "maintenance:maintenance_group",
    "backup": "backups:backup_command",
    "restore": "backups:restore_command",
    "keys": "keys:keys_command",
    "appointments": "appointments:appointments_group",
    "calendar": "calendar:calendar_group",
    "openings": "openings:openings_group",
    "match": "openings:match_command",
    "offers": "offers:offers_group",
    "notify": "offers:notify_command",
    "expire": "offers:expire_command",
    "outbox": "messages:outbox_group",
    "reply": "messages:reply_command",
    "replies": "messages:replies_group",
    "audit": "audit:audit_group",
    "staff": "staff:staff_group",
    "serve": "serve:serve_command",
    "simulate": "simulate:simulate_command",
}


@click.group(
    cls=WaitlistGroup,
    lazy={name: f"{__name__}.{target}" for name, target in COMMANDS.items()},
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@root_options
@click.version_option(package_name="waitlist-tui", prog_name="waitlist-tui")
@click.pass_context
def main(ctx: click.Context, **_: object) -> None:
    """A keyboard-first waitlist desk. With no command, opens the app."""
    if ctx.invoked_subcommand is None:
        open_tui(ctx.obj)
    else:
        started()  # the app turns the collector back on once its queue is up

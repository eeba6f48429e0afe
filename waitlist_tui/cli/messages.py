"""Messages on the command line: `outbox deliver`, `outbox list`, `reply` (the hook an SMS
gateway calls) and `replies list`."""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from typing import Any

import click

from waitlist_tui.cli.output import Ctx, more_line, one_more, table, with_one_more
from waitlist_tui.cli.runtime import json_option, open_db


@click.group("outbox")
def outbox_group() -> None:
    """Messages to clients: what is queued, what went out, what failed and why."""


def _env_float(name: str, default: float) -> float:
    from waitlist_tui.domain.errors import ValidationError

    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise ValidationError(f"{name} must be a number", field=name) from None


@outbox_group.command("deliver")
@click.option("--loop", is_flag=True, help="Keep going (Ctrl+C stops); else send what is due.")
@click.option("--batch", type=int, default=50, show_default=True, help="Messages per claim.")
@click.option("--interval", type=float, default=5.0, show_default=True, help="Loop pause (s).")
@click.option("--sms", "sms", metavar="file|webhook", help="env WAITLIST_SMS_TRANSPORT")
@click.option("--email", "email", metavar="file|smtp|webhook", help="env WAITLIST_EMAIL_TRANSPORT")
@click.option(
    "--max-attempts", type=int, help="Dead after N attempts (env WAITLIST_MAX_ATTEMPTS, 5)."
)
@click.option(
    "--backoff",
    type=float,
    help="First retry after S seconds, doubling (env WAITLIST_BACKOFF, 60).",
)
@json_option
@click.pass_obj
def outbox_deliver(
    ctx: Ctx,
    loop: bool,
    batch: int,
    interval: float,
    sms: str | None,
    email: str | None,
    max_attempts: int | None,
    backoff: float | None,
) -> None:
    """Send the messages whose time has come (cron: every minute; or --loop)."""
    from waitlist_tui.domain.messaging import delivery, transports

    open_db(ctx)
    chosen = transports.from_env(sms=sms, email=email)
    base = backoff if backoff is not None else _env_float("WAITLIST_BACKOFF", 60)
    policy = delivery.RetryPolicy(
        max_attempts=max_attempts or int(_env_float("WAITLIST_MAX_ATTEMPTS", 5)),
        base_seconds=base,
        cap_seconds=max(base, _env_float("WAITLIST_BACKOFF_CAP", 3600)),
    )
    if not ctx.json:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = delivery.Report()
    with suppress(KeyboardInterrupt):  # Ctrl+C ends a loop: then say what it did
        delivery.deliver(chosen, batch, policy, loop=loop, interval=interval, total=report)
    ctx.out(
        report.to_dict(),
        lambda d: click.echo(", ".join(f"{k}: {v}" for k, v in d.items())),
    )


@outbox_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "sent", "failed", "dead", "all"]),
    default="all",
    show_default=True,
)
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@click.option("--offset", type=int, default=0, show_default=True, help="Rows to skip.")
@json_option
@click.pass_obj
def outbox_list(ctx: Ctx, status: str, limit: int, offset: int) -> None:
    """Newest first; recipients masked; `delivery`: the SMS provider's receipt."""
    from waitlist_tui.domain.messaging.outbox import list_messages

    open_db(ctx)
    chosen = None if status == "all" else status
    found = list_messages(chosen, limit=with_one_more(limit, offset), offset=offset)
    items, more = one_more([m.to_dict() for m in found], limit)

    def text(d: list[dict[str, Any]]) -> None:
        _outbox_table(d)
        more_line(len(d), offset, more, "newest first")

    ctx.out(items, text)


def _outbox_table(d: list[dict[str, Any]]) -> None:
    table(
        (
            "id",
            "created",
            "kind",
            "to",
            "client",
            "status",
            "tries",
            "next / sent",
            "delivery",
            "error",
        ),
        [
            (
                m["id"][:8],
                m["created_at"],
                m["kind"],
                f"{m['channel']} {m['recipient']}",
                m["client"],
                m["status"],
                (
                    f"{m['attempts']} ({m['interrupted']} cut off)"
                    if m["interrupted"]
                    else m["attempts"]
                ),
                m["sent_at"] or m["next_attempt_at"] or "",
                _delivery(m),
                m["last_error"][:40],
            )
            for m in d
        ],
    )


def _delivery(m: dict[str, Any]) -> str:
    """The provider's receipt: "delivered", "undelivered (30003)", or blank (none came)."""
    if not m["delivery_status"]:
        return ""
    return m["delivery_status"] + (f" ({m['delivery_error']})" if m["delivery_error"] else "")


@click.command("reply")
@click.option("--from", "sender", required=True, metavar="PHONE", help="The client's phone.")
@click.option(
    "--text", required=True, help="What they wrote: YES / NO, STOP / START / HELP, or anything."
)
@click.option("--ref", metavar="ID", help="The offer the gateway says it answers.")
@click.option("--clinic", "clinic_code", metavar="CODE")
@json_option
@click.pass_obj
def reply_command(
    ctx: Ctx, sender: str, text: str, ref: str | None, clinic_code: str | None
) -> None:
    """A client's reply by SMS: YES/Y/1 accepts their live offer, NO/N/2 declines it; STOP
    (STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) stops texts to that phone at once, START /
    UNSTOP turns them back on, HELP / INFO answers with the clinic's contact line."""
    from waitlist_tui.domain.messaging.replies import handle_reply
    from waitlist_tui.domain.textinput import printable

    open_db(ctx)
    result = handle_reply(sender, text, ctx.staff, clinic_code, ref)

    def text_out(d: dict[str, Any]) -> None:
        who = d["client"] or "unknown sender"
        extra = f" ({d['detail']})" if d["detail"] else ""
        click.echo(printable(f"{d['outcome']}: {who}{extra}"))
        if d["message_key"]:
            click.echo(f"queued {d['message_key']}")

    ctx.out(result.to_dict(), text_out)


@click.group("replies")
def replies_group() -> None:
    """Replies clients sent, and what each did."""


@replies_group.command("list")
@click.option(
    "--outcome",
    metavar="NAME",
    help="note (for the desk to read), accepted, declined, already_filled, no_offer, ...",
)
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@click.option("--offset", type=int, default=0, show_default=True, help="Rows to skip.")
@json_option
@click.pass_obj
def replies_list(ctx: Ctx, outcome: str | None, limit: int, offset: int) -> None:
    """Newest first; senders masked."""
    from waitlist_tui.domain.messaging.replies import list_replies

    open_db(ctx)
    found = list_replies(outcome, limit=with_one_more(limit, offset), offset=offset)
    items, more = one_more([r.to_dict() for r in found], limit)

    def text(d: list[dict[str, Any]]) -> None:
        table(
            ("received", "from", "client", "outcome", "text"),
            [(r["received_at"], r["from"], r["client"] or "", r["outcome"], r["text"]) for r in d],
        )
        more_line(len(d), offset, more, "newest first")

    ctx.out(items, text)

"""The entry editor's fields: their layout, the clinic's defaults in them, their values to
and from an EntryForm, and where a domain error is shown and which box takes the focus for
it. No service calls here."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clients import display_phone
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill.openings import AppointmentView
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.quickdates import long_date
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui.desk_words import desk_words
from waitlist_tui.tui.entry_form import EntryForm
from waitlist_tui.tui.screens.editor_calls import ClientChoice
from waitlist_tui.tui.widgets.toggles import ToggleRow

NEW_CLIENT = "__new__"
PAYMENTS = [("Self pay", vocab.SELF_PAY), ("Insurance", vocab.INSURANCE_PAY)]
PARTS = [("MORNING", "Morning"), ("AFTERNOON", "Afternoon"), ("EVENING", "Evening")]
CONSENT_CHOICES = [("Yes", consent.YES), ("No", consent.NO)]
# An entry's later appointment when it takes an earlier slot (fill/knock_on.py).
LATER_CHOICES = [("release it when moved up", "release"), ("keep it as well", "keep")]
CONSENT_BOXES = {"consent_sms": "#consent-sms", "consent_email": "#consent-email"}
# Which error line shows a domain error, by the field the error names.
ERROR_LINE = {
    "client": "client",
    "client_id": "client",
    "service": "service",
    "date_range_start": "dates",
    "date_range_end": "dates",
    "preferred_days": "days",
    "preferred_time_slots": "time",
    "preferred_time_start": "time",
    "preferred_time_end": "time",
    "preferred_providers": "providers",
    "payment_type": "payprio",
    "priority": "payprio",
    "notes": "notes",
    "keep_later_appointment": "later",
}
# Which box takes the focus for an error, by the field it names ("client": the search box,
# or the first name when the client is a new one).
FIELD_BOX = {
    "first_name": "#first_name",
    "last_name": "#last_name",
    "phone": "#phone",
    "email": "#email",
    "client": "#client-search",
    "client_id": "#client-search",
    "service": "#service",
    "date_range_start": "#start",
    "date_range_end": "#end",
    "preferred_days": "#days",
    "preferred_time_slots": "#parts",
    "preferred_time_start": "#time-start",
    "preferred_time_end": "#time-end",
    "preferred_providers": "#providers",
    "payment_type": "#payment",
    "priority": "#priority",
    "notes": "#notes",
    "keep_later_appointment": "#keep-later",
}


def form_fields(new_entry: bool) -> ComposeResult:
    """The form, in the order a call goes; what the catalogue decides is filled in later
    (the services, the payment default, the consent boxes)."""
    with VerticalScroll(id="form"):
        with Horizontal(classes="row"):
            yield Label("Client", classes="field-label")
            search = Input(
                placeholder="name or phone, enter picks",
                id="client-search",
                compact=True,
            )
            search.display = new_entry
            yield search
            yield Static("", id="client-chosen")
        matches: OptionList = OptionList(id="client-matches")
        matches.can_focus = False
        yield matches
        with Horizontal(id="new-client", classes="row"):
            yield Label("New client", classes="field-label")
            yield Input(placeholder="first name", id="first_name", compact=True)
            yield Input(placeholder="last name", id="last_name", compact=True)
            yield Input(placeholder="phone", id="phone", compact=True)
            yield Input(placeholder="email", id="email", compact=True)
        with Horizontal(id="new-client-consent", classes="row"):
            yield Label("May we", classes="field-label")  # the boxes: once read
        yield Static("", id="err-client", classes="error")
        with Horizontal(classes="row"):
            yield Label("Service", classes="field-label")
            yield Select[str](
                [],
                prompt="choose a service (type to search)",
                id="service",
                compact=True,
            )
        yield Static("", id="err-service", classes="error")
        with Horizontal(classes="row"):
            yield Label("From", classes="field-label")
            yield Input(placeholder="today", id="start", compact=True, classes="date")
            yield Static("", id="start-read", classes="read-back")
        with Horizontal(classes="row"):  # own line: the read-backs fit at 80 columns
            yield Label("Until", classes="field-label")
            yield Input(placeholder="start + max span", id="end", compact=True, classes="date")
            yield Static("", id="end-read", classes="read-back")
        yield Static("", id="err-dates", classes="error")
        with Horizontal(classes="row"):
            yield Label("Days", classes="field-label")
            yield ToggleRow(
                [(d, vocab.DAY_SHORT[d]) for d in vocab.DAYS], id="days", empty_label="any day"
            )
        yield Static("", id="err-days", classes="error")
        with Horizontal(classes="row"):
            yield Label("Time of day", classes="field-label")
            yield ToggleRow(PARTS, id="parts", empty_label="any time")
        with Horizontal(classes="row"):
            yield Label("or between", classes="field-label")
            yield Input(placeholder="09:00", id="time-start", compact=True, classes="time")
            yield Input(placeholder="12:00", id="time-end", compact=True, classes="time")
        yield Static("", id="err-time", classes="error")
        with Horizontal(classes="row providers-row"):
            yield Label("Providers", classes="field-label")
            yield SelectionList[str](id="providers", compact=True)
            yield Static("", id="providers-hint", classes="hint")
        yield Static("", id="err-providers", classes="error")
        with Horizontal(classes="row"):
            yield Label("Payment", classes="field-label")
            yield Select(
                PAYMENTS,
                value=vocab.SELF_PAY,  # the clinic's default once read
                allow_blank=False,
                id="payment",
                compact=True,
            )
            yield Label("Priority", classes="field-label short")
            yield Select(
                [(f"{n}{' (most urgent)' if n == 1 else ''}", n) for n in range(1, 6)],
                value=3,
                allow_blank=False,
                id="priority",
                compact=True,
            )
        yield Static("", id="err-payprio", classes="error")
        with Horizontal(classes="row"):
            yield Label("Notes", classes="field-label")
            yield Input(placeholder="anything the desk should know", id="notes", compact=True)
        yield Static("", id="err-notes", classes="error")
        with Horizontal(classes="row"):
            yield Label("Later appt", classes="field-label")
            later = Select(
                LATER_CHOICES, value="release", allow_blank=False, id="keep-later", compact=True
            )
            later.tooltip = (
                "A client who holds a later appointment and takes an earlier slot: release "
                "the later one for the waitlist (knock-on), or keep both"
            )
            yield later
        yield Static("", id="err-later", classes="error")


def consent_boxes(default: str) -> list[Widget]:
    """Yes / No, started at the clinic's default; blank ("ask them") when it asks."""
    boxes: list[Widget] = []
    for label, box_id in (("text them", "consent-sms"), ("email them", "consent-email")):
        boxes.append(Label(label, classes="field-label short"))
        if default == consent.ASK:
            boxes.append(Select(CONSENT_CHOICES, prompt="ask them", id=box_id, compact=True))
        else:
            boxes.append(
                Select(CONSENT_CHOICES, value=default, allow_blank=False, id=box_id, compact=True)
            )
    return boxes


def client_label(view: EntryView) -> str:
    contact = " · ".join(
        x for x in (display_phone(view.client.phone), view.client.email or "") if x
    )
    return f"{printable(view.client.name)}  {contact}".strip()


def new_client_boxes(typed: str) -> dict[str, str]:
    """What was typed in the client search, in the new client's box it belongs in."""
    digits = typed.replace(" ", "").replace("-", "").replace("+", "")
    if digits.isdigit():
        return {"phone": typed}
    if "@" in typed:
        return {"email": typed}
    first, _, last = typed.partition(" ")
    return {"first_name": first.strip().title(), "last_name": last.strip().title()}


def read_only_text(entry: EntryView, appointment: AppointmentView | None, zone: ZoneInfo) -> str:
    """Why a closed entry cannot change, and its appointment when it was booked."""
    local = entry.status_changed_at.astimezone(zone)
    booked = ""
    if appointment is not None:  # a booked entry opened without its appointment
        a = appointment
        booked = (
            f" Appointment: {a.starts_at.astimezone(zone):%a %d %b %H:%M} with "
            f"{a.provider_code} ({a.service_code}, {a.status})."
        )
    return (
        f"Read only: this entry is {entry.status} since {long_date(local.date())} "
        f"{local:%H:%M} ({entry.updated_by}).{booked} Closed entries cannot be edited; "
        "add a new entry instead."
    )


def placed_errors(
    err: DomainError,
) -> tuple[list[tuple[str | None, str]], dict[str, list[str]], list[str]]:
    """Every error of `err`, the desk's words for each by the error line it goes on, and
    those no line shows (for the banner)."""
    listed = (err.data or {}).get("errors") if isinstance(err.data, dict) else None
    found = [(e["field"], e["message"]) for e in listed or []] or [(err.field, err.message)]
    lines: dict[str, list[str]] = {}
    unplaced = []
    for name, message in found:
        line = ERROR_LINE.get((name or "").split(".")[0])
        if line is None:
            unplaced.append(message)
        else:
            lines.setdefault(line, []).append(desk_words(name, message))
    return found, lines, unplaced


def select_value(root: Widget, selector: str) -> str | None:
    value = root.query_one(selector, Select).value
    return None if value is Select.NULL else str(value)


def read_form(
    root: Widget, client_id: str | None, new_client: bool, payment_default: str
) -> EntryForm:
    """The widgets' values as an EntryForm (the domain checks them, not the screen)."""
    fields = None
    answers: dict[str, bool | None] = {}
    if new_client:
        fields = {
            k: root.query_one(f"#{k}", Input).value
            for k in ("first_name", "last_name", "phone", "email")
        }
        for key, box in CONSENT_BOXES.items():
            said = select_value(root, box)
            answers[key] = None if said is None else said == consent.YES
    priority = root.query_one("#priority", Select).value
    return EntryForm(
        client_id=client_id,
        new_client=fields,
        **answers,
        service=select_value(root, "#service"),
        providers=list(root.query_one("#providers", SelectionList).selected),
        days=root.query_one("#days", ToggleRow).values,
        parts=root.query_one("#parts", ToggleRow).values,
        time_start=root.query_one("#time-start", Input).value,
        time_end=root.query_one("#time-end", Input).value,
        start_text=root.query_one("#start", Input).value,
        end_text=root.query_one("#end", Input).value,
        payment_type=select_value(root, "#payment") or payment_default,
        priority=priority if isinstance(priority, int) else 3,
        notes=root.query_one("#notes", Input).value,
        keep_later=select_value(root, "#keep-later") == "keep",
    )


def put_form(root: Widget, form: EntryForm) -> None:
    """An entry's values into the widgets (the client is chosen apart)."""
    root.query_one("#service", Select).value = form.service
    root.query_one("#start", Input).value = form.start_text
    root.query_one("#end", Input).value = form.end_text
    root.query_one("#days", ToggleRow).set_values(form.days)
    root.query_one("#parts", ToggleRow).set_values(form.parts)
    root.query_one("#time-start", Input).value = form.time_start
    root.query_one("#time-end", Input).value = form.time_end
    root.query_one("#payment", Select).value = form.payment_type
    root.query_one("#priority", Select).value = form.priority
    root.query_one("#notes", Input).value = form.notes
    root.query_one("#keep-later", Select).value = "keep" if form.keep_later else "release"


def date_read_backs(form: EntryForm, today: dt.date, max_span_days: int) -> tuple[Text, Text]:
    """Each date back in full as it is typed, or a mark where it does not read."""
    try:
        start, _ = EntryForm(start_text=form.start_text).dates(today, max_span_days)
    except DomainError:
        return Text("? not a date", "bold red"), Text("")
    start_text = Text(f"→ {long_date(start)}", "green" if form.start_text else "dim")
    try:
        _, end = form.dates(today, max_span_days)
    except DomainError:
        return start_text, Text("? not a date", "bold red")
    note = "" if form.end_text.strip() else f" ({max_span_days} days)"
    return start_text, Text(f"→ {long_date(end)}{note}", "green" if form.end_text else "dim")


def match_options(text: str, found: list[ClientChoice], total: int) -> list[Option]:
    """The clients a search found, how many more there are, and "+ New client" last."""
    options = [
        Option(Text(printable(c.label)), id=c.id)  # text, not markup; controls escaped
        for c in found
    ]
    if total > len(found):
        options.append(Option(Text(f"  … {total - len(found)} more: type more", "dim")))
    options.append(Option(Text(f"+ New client: {text}", style="bold"), id=NEW_CLIENT))
    return options

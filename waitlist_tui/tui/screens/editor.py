"""The entry editor: add a waitlist entry (new or existing client) or change one.

Fields run in the order a call goes: who, what, when, then the finer preferences, so the
common case is client, service, start date, ctrl+s. The screen copies widget values into an
EntryForm (tui/entry_form.py); every rule, default and error comes from the domain, and an
error is shown beside the field it names while the form keeps every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clients import display_phone, list_clients
from waitlist_tui.domain.catalog.clinics import Catalog, get_clinic, load_catalog
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill.openings import entry_appointment
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.quickdates import long_date
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import adding, changes
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui.desk_words import desk_words
from waitlist_tui.tui.entry_form import EntryForm
from waitlist_tui.tui.screens.dialogs import ConfirmDialog
from waitlist_tui.tui.widgets.footer import Footer
from waitlist_tui.tui.widgets.toggles import ToggleRow

NEW_CLIENT = "__new__"
MATCH_LIMIT = 6
PAYMENTS = [("Self pay", vocab.SELF_PAY), ("Insurance", vocab.INSURANCE_PAY)]
PARTS = [("MORNING", "Morning"), ("AFTERNOON", "Afternoon"), ("EVENING", "Evening")]
CONSENT_CHOICES = [("Yes", consent.YES), ("No", consent.NO)]
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
}


@dataclass(frozen=True)
class ClientChoice:
    id: str
    label: str


class EditorScreen(Screen[EntryView | None]):
    """New entry when `entry` is None; otherwise the entry, read only once it is closed."""

    HELP_TITLE = "entry editor"

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save", tooltip="Save the entry"),
        Binding(
            "escape",
            "leave",
            "Back",
            id="editor.back",
            tooltip="Back to the list (asks first if you changed something)",
        ),
    ]

    def __init__(self, entry: EntryView | None = None) -> None:
        super().__init__()
        self.entry = entry
        self.read_only = entry is not None and entry.is_closed
        with database.connection_context():
            clinic = get_clinic()
            self.catalog: Catalog = load_catalog(clinic)
            self.appointment = (
                entry_appointment(entry.id)
                if entry is not None and entry.status == vocab.BOOKED
                else None
            )
        self.chosen: ClientChoice | None = None
        self.new_client = False
        self.initial: EntryForm | None = None
        self.saving = False
        self.matches_for = ""  # the search text the shown matches belong to
        self.pick_pending = False

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        with VerticalScroll(id="form"):
            with Horizontal(classes="row"):
                yield Label("Client", classes="field-label")
                yield Input(
                    placeholder="name or phone, enter picks",
                    id="client-search",
                    compact=True,
                )
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
                yield Label("May we", classes="field-label")
                yield from self.consent_box("text them", "consent-sms")
                yield from self.consent_box("email them", "consent-email")
            yield Static("", id="err-client", classes="error")
            with Horizontal(classes="row"):
                yield Label("Service", classes="field-label")
                yield Select(
                    list(map(lambda s: (s[1], s[0]), self.catalog.services)),
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
                    value=self.catalog.payment_default,
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
        yield Footer(compact=True)

    def consent_box(self, label: str, box_id: str) -> ComposeResult:
        """Yes / No, started at the clinic's default; blank ("ask them") when it asks."""
        default = self.catalog.consent_default
        yield Label(label, classes="field-label short")
        if default == consent.ASK:
            yield Select(CONSENT_CHOICES, prompt="ask them", id=box_id, compact=True)
        else:
            yield Select(CONSENT_CHOICES, value=default, allow_blank=False, id=box_id, compact=True)

    def on_mount(self) -> None:
        self.sub_title = "New entry" if self.entry is None else "Edit entry"
        if self.entry is not None:
            self.fill(self.entry)
        self.update_read_backs()
        self.set_providers(self.value_of("#service"), keep=self.entry_providers())
        self.initial = self.collect()
        if self.read_only:
            self.show_read_only()
        elif self.entry is None:
            self.query_one("#client-search", Input).focus()
        else:
            self.query_one("#service", Select).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only entry has nothing to save: the footer does not offer it."""
        return not (action == "save" and self.read_only)

    def entry_providers(self) -> list[str]:
        return [p.code for p in self.entry.preferred_providers] if self.entry else []

    def fill(self, view: EntryView) -> None:
        form = EntryForm.of(view)
        self.choose_client(ClientChoice(str(view.client.id), self.client_label(view)))
        self.query_one("#client-search", Input).display = False
        self.query_one("#service", Select).value = form.service
        self.query_one("#start", Input).value = form.start_text
        self.query_one("#end", Input).value = form.end_text
        self.query_one("#days", ToggleRow).set_values(form.days)
        self.query_one("#parts", ToggleRow).set_values(form.parts)
        self.query_one("#time-start", Input).value = form.time_start
        self.query_one("#time-end", Input).value = form.time_end
        self.query_one("#payment", Select).value = form.payment_type
        self.query_one("#priority", Select).value = form.priority
        self.query_one("#notes", Input).value = form.notes

    @staticmethod
    def client_label(view: EntryView) -> str:
        contact = " · ".join(
            x for x in (display_phone(view.client.phone), view.client.email or "") if x
        )
        return f"{printable(view.client.name)}  {contact}".strip()

    def show_read_only(self) -> None:
        """A closed entry is shown as it is, with why it cannot change."""
        assert self.entry is not None
        for widget in self.query("#form Input, #form Select, #form ToggleRow, #form SelectionList"):
            widget.disabled = True
        zone = ZoneInfo(self.catalog.time_zone)
        local = self.entry.status_changed_at.astimezone(zone)
        booked = ""
        if self.appointment is not None:  # a booked entry opened without its appointment
            a = self.appointment
            booked = (
                f" Appointment: {a.starts_at.astimezone(zone):%a %d %b %H:%M} with "
                f"{a.provider_code} ({a.service_code}, {a.status})."
            )
        self.set_banner(
            f"Read only: this entry is {self.entry.status} since {long_date(local.date())} "
            f"{local:%H:%M} ({self.entry.updated_by}).{booked} Closed entries cannot be edited; "
            "add a new entry instead.",
            "read-only",
        )

    # --- reading the form ---------------------------------------------------------------------

    def value_of(self, selector: str) -> str | None:
        value = self.query_one(selector, Select).value
        return None if value is Select.NULL else str(value)

    def collect(self) -> EntryForm:
        new_client = None
        answers: dict[str, bool | None] = {}
        if self.new_client:
            new_client = {
                k: self.query_one(f"#{k}", Input).value
                for k in ("first_name", "last_name", "phone", "email")
            }
            for key, box in CONSENT_BOXES.items():
                said = self.value_of(box)
                answers[key] = None if said is None else said == consent.YES
        priority = self.query_one("#priority", Select).value
        return EntryForm(
            client_id=self.chosen.id if self.chosen else None,
            new_client=new_client,
            **answers,
            service=self.value_of("#service"),
            providers=list(self.query_one("#providers", SelectionList).selected),
            days=self.query_one("#days", ToggleRow).values,
            parts=self.query_one("#parts", ToggleRow).values,
            time_start=self.query_one("#time-start", Input).value,
            time_end=self.query_one("#time-end", Input).value,
            start_text=self.query_one("#start", Input).value,
            end_text=self.query_one("#end", Input).value,
            payment_type=self.value_of("#payment") or self.catalog.payment_default,
            priority=priority if isinstance(priority, int) else 3,
            notes=self.query_one("#notes", Input).value,
        )

    @property
    def dirty(self) -> bool:
        typed = bool(self.query_one("#client-search", Input).value.strip()) and not self.chosen
        return typed or (self.initial is not None and self.collect() != self.initial)

    @property
    def unsaved(self) -> bool:
        """What the app's quit asks about: changes that leaving would lose."""
        return not self.read_only and self.is_mounted and self.dirty

    # --- client search ------------------------------------------------------------------------

    @on(Input.Changed, "#client-search")
    def client_typed(self, event: Input.Changed) -> None:
        if self.entry is not None:
            return
        if self.chosen is not None:
            self.chosen = None
            self.query_one("#client-chosen", Static).update("")
        self.search_clients(event.value.strip())

    @work(thread=True, exclusive=True, group="clients")
    def search_clients(self, text: str) -> None:
        found: list[ClientChoice] = []
        total = 0
        if text:
            with database.connection_context():
                rows, total = list_clients(get_clinic(), text, limit=MATCH_LIMIT)
            found = [
                ClientChoice(
                    str(c.id),
                    " · ".join(
                        x
                        for x in (
                            f"{c.first_name} {c.last_name}",
                            display_phone(c.phone),
                            c.email or "",
                        )
                        if x
                    ),
                )
                for c in rows
            ]
        self.app.call_from_thread(self.show_matches, text, found, total)

    def show_matches(self, text: str, found: list[ClientChoice], total: int) -> None:
        if text != self.query_one("#client-search", Input).value.strip():
            return  # typed on since: a newer search is on its way
        matches = self.query_one("#client-matches", OptionList)
        matches.clear_options()
        if not text:
            matches.display = False
            return
        for choice in found:
            label = Text(printable(choice.label))  # text, not markup; controls escaped
            matches.add_option(Option(label, id=choice.id))
        if total > len(found):
            matches.add_option(Option(Text(f"  … {total - len(found)} more: type more", "dim")))
        matches.add_option(Option(Text(f"+ New client: {text}", style="bold"), id=NEW_CLIENT))
        matches.display = True
        matches.highlighted = 0
        self.choices = {c.id: c for c in found}
        self.matches_for = text
        if self.pick_pending:  # enter was pressed before these results came back
            self.pick_pending = False
            self.pick_client()

    def on_key(self, event: events.Key) -> None:
        """Up and down in the client search move through its matches."""
        search = self.query_one("#client-search", Input)
        matches = self.query_one("#client-matches", OptionList)
        if self.focused is search and matches.display and event.key in ("up", "down"):
            event.stop()
            event.prevent_default()
            if event.key == "down":
                matches.action_cursor_down()
            else:
                matches.action_cursor_up()

    @on(Input.Submitted, "#client-search")
    def pick_client(self) -> None:
        typed = self.query_one("#client-search", Input).value.strip()
        if typed and self.matches_for != typed:
            self.pick_pending = True  # a fast typist's enter waits for the search it ends
            return
        matches = self.query_one("#client-matches", OptionList)
        if not matches.display or matches.highlighted is None:
            return
        option = matches.get_option_at_index(matches.highlighted)
        if option.id == NEW_CLIENT:
            self.start_new_client(self.query_one("#client-search", Input).value.strip())
        elif option.id in getattr(self, "choices", {}):
            self.choose_client(self.choices[option.id])
            self.query_one("#service", Select).focus()

    def choose_client(self, choice: ClientChoice) -> None:
        self.chosen = choice
        self.new_client = False
        self.remove_class("-new-client")
        self.query_one("#client-matches", OptionList).display = False
        self.query_one("#client-chosen", Static).update(
            Text(f"✓ {printable(choice.label)}", "bold")
        )
        self.clear_errors("client")

    def start_new_client(self, typed: str) -> None:
        """Create the client in place, with what was typed already in the right boxes."""
        self.chosen = None
        self.new_client = True
        self.add_class("-new-client")
        self.query_one("#client-matches", OptionList).display = False
        self.query_one("#client-chosen", Static).update(Text("new client ↓", "italic"))
        digits = typed.replace(" ", "").replace("-", "").replace("+", "")
        if digits.isdigit():
            self.query_one("#phone", Input).value = typed
        elif "@" in typed:
            self.query_one("#email", Input).value = typed
        else:
            first, _, last = typed.partition(" ")
            self.query_one("#first_name", Input).value = first.strip().title()
            self.query_one("#last_name", Input).value = last.strip().title()
        empty = [
            w
            for w in self.query("#new-client Input").results(Input)
            if not w.value and w.id in ("first_name", "last_name", "phone")
        ]
        (empty[0] if empty else self.query_one("#phone", Input)).focus()

    # --- dependent fields ---------------------------------------------------------------------

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tabbing into the providers left no row highlighted, so `space` ticked nothing and
        the entry was saved as "any provider": the first row is highlighted on focus."""
        providers = event.widget
        if (
            isinstance(providers, SelectionList)
            and providers.highlighted is None
            and providers.option_count
        ):
            providers.highlighted = 0

    @on(Select.Changed, "#service")
    def service_changed(self, event: Select.Changed) -> None:
        keep = list(self.query_one("#providers", SelectionList).selected)
        value = None if event.value is Select.NULL else str(event.value)
        self.set_providers(value, keep)

    def set_providers(self, service: str | None, keep: list[str]) -> None:
        providers: SelectionList[str] = self.query_one("#providers", SelectionList)
        providers.clear_options()
        offered = self.catalog.providers_by_service.get(service or "", ())
        providers.add_options([(f"{name} ({code})", code, code in keep) for code, name in offered])
        providers.display = bool(offered)
        hint = (
            "space ticks a provider; none ticked means anyone who offers the service"
            if offered
            else "choose a service first"
        )
        self.query_one("#providers-hint", Static).update(hint)

    @on(Input.Changed, "#start")
    @on(Input.Changed, "#end")
    def dates_typed(self) -> None:
        self.update_read_backs()

    def update_read_backs(self) -> None:
        """Show each date back in full as it is typed, or a mark where it does not read."""
        today = clock.today(self.catalog.time_zone)
        form = self.collect()
        start_read = self.query_one("#start-read", Static)
        end_read = self.query_one("#end-read", Static)
        start_only = EntryForm(start_text=form.start_text)
        try:
            start, _ = start_only.dates(today, self.catalog.max_span_days)
        except DomainError:
            start_read.update(Text("? not a date", "bold red"))
            end_read.update("")
            return
        start_read.update(Text(f"→ {long_date(start)}", "green" if form.start_text else "dim"))
        try:
            _, end = form.dates(today, self.catalog.max_span_days)
        except DomainError:
            end_read.update(Text("? not a date", "bold red"))
            return
        note = "" if form.end_text.strip() else f" ({self.catalog.max_span_days} days)"
        end_read.update(Text(f"→ {long_date(end)}{note}", "green" if form.end_text else "dim"))

    # --- errors -------------------------------------------------------------------------------

    def clear_errors(self, line: str | None = None) -> None:
        for widget in self.query(".error").results(Static):
            if line is None or widget.id == f"err-{line}":
                widget.update("")
                widget.remove_class("-shown")
        if line is None:
            self.set_banner("")

    def show_error(self, err: DomainError) -> None:
        """Every field's error at once, in the desk's words, beside the field it names, and
        the focus on the first of them; the form keeps every value."""
        self.clear_errors()
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
        for line, said in lines.items():
            widget = self.query_one(f"#err-{line}", Static)
            widget.update(f"↑ {' · '.join(said)}")
            widget.add_class("-shown")
        if unplaced:
            self.set_banner(f"{'; '.join(unplaced)} (code {err.code})", "error")
            return
        count = len(found)
        self.set_banner(
            f"Not saved: fix the {count} fields marked below."
            if count > 1
            else "Not saved: fix the field marked below.",
            "error",
        )
        first = found[0][0] or ""
        box = CONSENT_BOXES.get(first.removeprefix("client."))
        if box and self.new_client:
            self.query_one(box, Select).focus()
        else:
            self.focus_field(first)

    def focus_field(self, field: str) -> None:
        if field.startswith("client.") and self.new_client:  # the phone's error: the phone
            field = field.removeprefix("client.")
        else:
            field = field.split(".")[0]
        target = {
            "first_name": "#first_name",
            "last_name": "#last_name",
            "phone": "#phone",
            "email": "#email",
            "client": "#client-search" if not self.new_client else "#first_name",
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
        }.get(field)
        if target:
            widget = self.query_one(target)
            if widget.display and widget.focusable:
                widget.focus()
                if isinstance(widget, Input):
                    widget.select_all()  # typing the fix replaces the wrong value

    def set_banner(self, message: str, kind: str = "") -> None:
        banner = self.query_one("#banner", Static)
        banner.update(message)
        banner.set_classes(kind)
        banner.display = bool(message)

    # --- actions ------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.read_only:
            self.notify("This entry is closed and read only.", severity="warning")
            return
        if self.saving:
            return
        form = self.collect()
        today = clock.today(self.catalog.time_zone)
        try:
            if self.entry is None:
                payload = form.create_payload(today, self.catalog.max_span_days)
            else:
                payload = form.patch(self.entry, today, self.catalog.max_span_days)
        except DomainError as err:
            self.show_error(err)
            return
        if self.entry is not None and not payload:
            self.dismiss(None)
            return
        self.saving = True
        self.save(payload)

    @work(thread=True, exclusive=True, group="save")
    def save(self, payload: dict) -> None:
        staff = self.app.staff  # type: ignore[attr-defined]
        try:
            with database.connection_context():
                if self.entry is None:
                    view = adding.create(payload, staff)
                else:
                    view = changes.update(self.entry.id, payload, staff)
        except DomainError as err:
            self.app.call_from_thread(self.save_failed, err)
            return
        self.app.call_from_thread(self.saved, view)

    def save_failed(self, err: DomainError) -> None:
        self.saving = False
        self.show_error(err)

    def saved(self, view: EntryView) -> None:
        verb = "Added" if self.entry is None else "Saved"
        self.notify(
            f"{verb}: {printable(view.client.name)} · {view.service.code} · {view.status}",
            markup=False,
        )
        self.dismiss(view)

    def action_leave(self) -> None:
        if self.read_only or not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog(
                "Discard your changes to this entry?",
                "What you typed is lost if you discard it.",
                yes="Discard",
                no="Keep editing",
            ),
            answered,
        )

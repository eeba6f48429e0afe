"""The entry editor: add a waitlist entry (new or existing client) or change one.

Fields run in the order a call goes: who, what, when, then the finer preferences, so the
common case is client, service, start date, ctrl+s. The screen copies widget values into an
EntryForm (tui/entry_form.py); every rule, default and error comes from the domain, and an
error is shown beside the field it names while the form keeps every value.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Input, OptionList, Select, SelectionList, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import Catalog
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill.openings import AppointmentView
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import adding, changes
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.entry_form import EntryForm
from waitlist_tui.tui.screens import editor_calls as results
from waitlist_tui.tui.screens import editor_fields as fields
from waitlist_tui.tui.screens.dialogs import ConfirmDialog
from waitlist_tui.tui.widgets.footer import Footer


class EditorScreen(DeskScreen[EntryView | None]):
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
        self.catalog = Catalog("UTC", 0, (), {})  # until read
        self.ready = False  # the catalogue has been read and the form filled
        self.appointment: AppointmentView | None = None
        self.chosen: results.ClientChoice | None = None
        self.new_client = False
        self.initial: EntryForm | None = None
        self.saving = False
        self.matches_for = ""  # the search text the shown matches belong to
        self.choices: dict[str, results.ClientChoice] = {}
        self.pick_pending = False

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        yield from fields.form_fields(new_entry=self.entry is None)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """The client search takes keys at once; the rest is filled when the catalogue is
        read (in a worker: not on the event loop)."""
        self.sub_title = "New entry" if self.entry is None else "Edit entry"
        if self.entry is None:
            self.query_one("#client-search", Input).focus()
        self.calls.read(results.read_choices, self.entry, done=results.ChoicesRead, group="choices")

    @on(results.ChoicesRead)
    async def choices_read(self, message: results.ChoicesRead) -> None:
        self.catalog = message.value.catalog
        self.appointment = message.value.appointment
        self.query_one("#service", Select).set_options((n, c) for c, n in self.catalog.services)
        self.query_one("#payment", Select).value = self.catalog.payment_default
        await self.query_one("#new-client-consent", Horizontal).mount_all(
            fields.consent_boxes(self.catalog.consent_default)
        )
        if self.entry is not None:
            self.fill(self.entry)
        self.ready = True
        self.update_read_backs()
        self.set_providers(self.value_of("#service"), keep=self.entry_providers())
        self.initial = self.collect()
        if self.read_only:
            self.show_read_only()
        elif self.entry is not None:
            self.query_one("#service", Select).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only entry has nothing to save: the footer does not offer it."""
        return not (action == "save" and self.read_only)

    def entry_providers(self) -> list[str]:
        return [p.code for p in self.entry.preferred_providers] if self.entry else []

    def fill(self, view: EntryView) -> None:
        self.choose_client(results.ClientChoice(str(view.client.id), fields.client_label(view)))
        fields.put_form(self, EntryForm.of(view))

    def show_read_only(self) -> None:
        """A closed entry is shown as it is, with why it cannot change."""
        assert self.entry is not None
        for widget in self.query("#form Input, #form Select, #form ToggleRow, #form SelectionList"):
            widget.disabled = True
        zone = ZoneInfo(self.catalog.time_zone)
        self.set_banner(fields.read_only_text(self.entry, self.appointment, zone), "read-only")

    # --- reading the form ---------------------------------------------------------------------

    def value_of(self, selector: str) -> str | None:
        return fields.select_value(self, selector)

    def collect(self) -> EntryForm:
        chosen = self.chosen.id if self.chosen else None
        return fields.read_form(self, chosen, self.new_client, self.catalog.payment_default)

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

    def search_clients(self, text: str) -> None:
        self.calls.read(results.search_clients, text, done=results.ClientsFound, group="clients")

    @on(results.ClientsFound)
    def show_matches(self, message: results.ClientsFound) -> None:
        text, found, total = message.value.text, message.value.found, message.value.total
        if text != self.query_one("#client-search", Input).value.strip():
            return  # typed on since: a newer search is on its way
        matches = self.query_one("#client-matches", OptionList)
        matches.clear_options()
        if not text:
            matches.display = False
            return
        matches.add_options(fields.match_options(text, found, total))
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
        if option.id == fields.NEW_CLIENT:
            self.start_new_client(self.query_one("#client-search", Input).value.strip())
        elif option.id is not None and option.id in self.choices:
            self.choose_client(self.choices[option.id])
            self.query_one("#service", Select).focus()

    def choose_client(self, choice: results.ClientChoice) -> None:
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
        for box, value in fields.new_client_boxes(typed).items():
            self.query_one(f"#{box}", Input).value = value
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
        if not self.ready:
            return  # the clinic's time zone and span are not read yet
        today = clock.today(self.catalog.time_zone)
        start, end = fields.date_read_backs(self.collect(), today, self.catalog.max_span_days)
        self.query_one("#start-read", Static).update(start)
        self.query_one("#end-read", Static).update(end)

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
        found, lines, unplaced = fields.placed_errors(err)
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
        box = fields.CONSENT_BOXES.get(first.removeprefix("client."))
        if box and self.new_client:
            self.query_one(box, Select).focus()
        else:
            self.focus_field(first)

    def focus_field(self, field: str) -> None:
        if field.startswith("client.") and self.new_client:  # the phone's error: the phone
            field = field.removeprefix("client.")
        else:
            field = field.split(".")[0]
        target = fields.FIELD_BOX.get(field)
        if field == "client" and self.new_client:
            target = "#first_name"
        if target:
            widget = self.query_one(target)
            if widget.display and widget.focusable:
                widget.focus()
                if isinstance(widget, Input):
                    widget.select_all()  # typing the fix replaces the wrong value

    def others_changed(self, what: calls.Changes) -> None:
        """Another desk changed the entry open here (the app's change feed): the form keeps
        what is typed, and the banner says so before a save finds it out."""
        if self.entry is not None and not self.read_only and str(self.entry.id) in what.ids:
            self.set_banner(
                "Another desk has just changed this entry: saving will ask you to look again "
                "(escape, then open it again to see their change).",
                "read-only",
            )

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
        if self.saving or not self.ready:
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

    def save(self, payload: dict[str, Any]) -> None:
        if self.entry is None:
            write = partial(adding.create, payload)
        else:
            write = partial(changes.update, self.entry.id, payload)
        self.calls.write(
            write,
            self.desk.staff,
            done=results.EntrySaved,
            failed=results.SaveRefused,
            group="save",
        )

    @on(results.SaveRefused)
    def save_failed(self, message: results.SaveRefused) -> None:
        self.saving = False
        self.show_error(message.error)

    @on(results.EntrySaved)
    def saved(self, message: results.EntrySaved) -> None:
        view = message.value
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

"""The screens' footer: Textual's Footer, each set of keys built once and then only shown.

The stock Footer recomposes (removes and mounts a widget per key) on every refresh of the
screen's bindings: each focus move and each time its screen comes back, even when the same
keys result, and mounting a dozen styled keys costs tens of milliseconds. In the match finder
that happens on every search (the focus goes from the form to the list), in the middle of
the search. This footer keeps one stock Footer per set of keys it has shown (a screen has a
few: the form focused, the list focused...) and switches between them; a set seen for the
first time is built as before. What is painted is the stock Footer's own rendering.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

KEEP = 4  # sets of keys kept built per screen


class KeysFooter(TextualFooter):
    """A stock Footer showing the keys active when it was built; the Footer above drives it."""

    def __init__(self, compact: bool, show_command_palette: bool) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette)
        self.set_reactive(TextualFooter._bindings_ready, True)

    def compose(self) -> ComposeResult:
        """The stock keys, compact ones built with their class: each key's `compact` watcher
        then finds it there instead of styling the key again on mount (~15 ms of the app's
        start, a dozen keys)."""
        for widget in super().compose():
            if self.compact and isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)
            yield widget

    def on_mount(self) -> None:  # no subscription: built for one set of keys
        pass

    def on_unmount(self) -> None:
        pass

    def bindings_changed(self, screen: Screen) -> None:
        pass


class Footer(Widget):
    """The screen's key bar: shows the built KeysFooter for the current keys."""

    DEFAULT_CSS = """
    Footer {
        dock: bottom;
        height: 1;
    }
    """

    def __init__(self, compact: bool = False) -> None:
        super().__init__()
        self.compact = compact
        self.show_command_palette = True  # narrow screens drop the palette hint (narrow.py)
        self._built: dict[tuple[object, ...], KeysFooter] = {}
        self._shown: tuple[object, ...] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._show_keys)

    def _keys(self) -> tuple[object, ...]:
        """Everything the stock Footer's compose reads, as a comparable value."""
        keys = tuple(
            (
                binding.key,
                binding.action,
                binding.description,
                binding.key_display,
                binding.group,
                enabled,
                tooltip,
                binding.tooltip,
                self.app.get_key_display(binding),
            )
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.action == "command_palette"
        )
        palette = self.app.ENABLE_COMMAND_PALETTE and self.show_command_palette
        return (palette, self.app.COMMAND_PALETTE_BINDING, keys)

    async def _show_keys(self) -> None:
        if not self.is_attached:
            return
        keys = self._keys()
        if keys == self._shown:
            return
        footer = self._built.pop(keys, None)
        if footer is None:
            while len(self._built) >= KEEP:  # the longest unused set goes
                await self._built.pop(next(iter(self._built))).remove()
            footer = KeysFooter(self.compact, bool(keys[0]))
            footer.display = False
            await self.mount(footer)
        self._built[keys] = footer  # most recently used last
        for other in self._built.values():
            other.display = other is footer
        self._shown = keys

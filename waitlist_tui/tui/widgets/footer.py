"""Textual's Footer, rebuilt only when the keys it shows change.

The stock Footer recomposes (removes and mounts a widget per key) on every refresh of the
screen's bindings: each focus move and each time its screen comes back, even when the same
keys result. Mounting a dozen keys costs tens of milliseconds at every screen change; this
one compares what it would show with what it shows and skips the rebuild when they match.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """A Footer that recomposes only when its keys (or their state) change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown_keys: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    def _keys(self) -> tuple[object, ...]:
        """Everything compose reads, as a comparable value."""
        keys = tuple(
            (
                binding.key,
                binding.action,
                binding.description,
                binding.key_display,
                binding.show,
                binding.group,
                enabled,
                tooltip,
                binding.tooltip,
            )
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
        )
        return (self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE, keys)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        keys = self._keys()
        if keys == self._shown_keys:
            return
        self._shown_keys = keys
        await self.recompose()

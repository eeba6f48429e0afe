"""waitlist-tui: a keyboard-first terminal desk for running an appointment waitlist."""

__version__ = "0.1.0"

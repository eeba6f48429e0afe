"""Everything that is true without a screen. Never imports textual."""

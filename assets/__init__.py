"""Demo clinic and sample files, shipped in the wheel as waitlist_tui.assets."""

"""`python -m waitlist_tui` runs the same entry point as the console script."""

from waitlist_tui.launch import run

if __name__ == "__main__":
    run()

"""`python -m waitlist_tui` runs the same entry point as the console script."""

from waitlist_tui.cli import main

if __name__ == "__main__":
    main()

"""Who may use the desk served in a browser: staff accounts (argon2 password hashes, roles,
the failed-login lock) and the login sessions that expire when idle. No web code here: the
server (waitlist_tui/web) calls these, and tests call them without a server."""

"""`waitlist-tui serve`: the desk in a browser behind a staff login, on aiohttp.

app.make_app builds one aiohttp application from route modules (auth: /login, /logout;
desk: /, /ws, /static; health: /health), each with an `add_routes(app, web_settings)`; a
later module (the clients' /join page) adds its routes the same way. Pages that need a
login call auth.require_session; the rest are public. The web code reaches the database
only through domain services run in threads (import-linter keeps peewee and the store out).
"""

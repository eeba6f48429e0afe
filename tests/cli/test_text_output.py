"""Names, notes and reply texts are data in the CLI's text output: "[/x]" prints as typed
(Rich read it as markup and the command died with MarkupError) and a control character
prints escaped, never raw to the terminal."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import add_entry, envelope
from tests.conftest import entry_payload
from waitlist_tui.domain.store.models import Client, InboundMessage

NAME = "Ann [/x]"
LAST = "Lee [bold]"


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table wide enough that no cell wraps (Rich reads COLUMNS)."""
    monkeypatch.setenv("COLUMNS", "250")


def _plain(result) -> str:
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    return result.output


def test_lists_print_names_with_brackets_as_typed(run, tmp_path) -> None:
    path = tmp_path / "ann.json"
    client = {"first_name": NAME, "last_name": LAST, "phone": "617-555-0177"}
    path.write_text(json.dumps(entry_payload(client=client)))
    envelope(run("entries", "add", "--json-file", str(path), "--json"))
    assert f"{NAME} {LAST}" in _plain(run("entries", "list"))
    assert f"{NAME} {LAST}" in _plain(run("clients", "list"))
    phone = envelope(run("clients", "list", "--json"))["items"][0]["phone"]
    assert _plain(run("reply", "--from", phone, "--text", "call me [/b] later"))
    listed = _plain(run("replies", "list"))
    assert "[/b]" in listed and NAME in listed


def test_control_characters_print_escaped(run, tmp_path) -> None:
    add_entry(run, tmp_path, "Bea")
    # Stored before names were checked on the way in (an old import, the database by hand):
    Client.update(first_name="Bea\x1b[2J\x07").execute()
    assert "Bea\\x1b[2J\\x07" in _plain(run("entries", "list"))
    assert "Bea\\x1b[2J\\x07" in _plain(run("clients", "list"))
    phone = envelope(run("clients", "list", "--json"))["items"][0]["phone"]
    run("reply", "--from", phone, "--text", "hello")
    InboundMessage.update(text="line\x1b]0;pwned\x07").execute()
    assert "line\\x1b]0;pwned\\x07" in _plain(run("replies", "list"))
    shown = _plain(
        run("entries", "show", envelope(run("entries", "list", "--json"))["items"][0]["id"])
    )
    assert "Bea\\u001b[2J\\u0007" in shown  # the client, as JSON


def test_an_error_message_prints_escaped(run, tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"\x1b[31mred": 1}))
    result = run("entries", "add", "--json-file", str(path))
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\\x1b[31mred" in result.output

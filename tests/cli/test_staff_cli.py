"""`staff add/list/password/disable/enable` and `serve`'s safe defaults, as scripts call them."""

from __future__ import annotations

import json

from tests.cli.conftest import envelope
from waitlist_tui.cli.serve import tls_warning

PASSWORD = "correct horse battery"


def test_add_with_password_on_stdin_then_list(run) -> None:
    added = run(
        "staff", "add", "ana", "--role", "manager", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output and "ana (manager): active" in added.output
    listed = envelope(run("staff", "list", "--json"))
    assert [(s["name"], s["role"], s["active"]) for s in listed] == [("ana", "manager", True)]
    assert "password_hash" not in json.dumps(listed) and "argon2" not in json.dumps(listed)


def test_add_asks_twice_with_a_hidden_prompt(run) -> None:
    typed = run("staff", "add", "bo", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.exit_code == 0, typed.output
    assert PASSWORD not in typed.output and "bo (desk)" in typed.output
    mismatch = run(
        "staff", "add", "cy", stdin=f"{PASSWORD}\nsomething else!\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()


def test_bad_password_and_duplicates_are_4000_and_4090(run) -> None:
    short = run("--json", "staff", "add", "ana", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and json.loads(short.output)["code"] == 4000
    assert "short\n" not in short.output.replace('"code"', "")
    assert run("staff", "add", "ana", "--password-stdin", stdin=PASSWORD).exit_code == 0
    again = run("--json", "staff", "add", "ana", "--password-stdin", stdin=PASSWORD)
    assert json.loads(again.output)["code"] == 4090


def test_password_disable_enable(run) -> None:
    run("staff", "add", "ana", "--password-stdin", stdin=PASSWORD)
    changed = run("staff", "password", "ana", "--password-stdin", stdin="another good one\n")
    assert changed.exit_code == 0 and "another good one" not in changed.output
    assert (
        json.loads(
            run("--json", "staff", "password", "nobody", "--password-stdin", stdin=PASSWORD).output
        )["code"]
        == 4040
    )
    assert envelope(run("staff", "disable", "ana", "--json"))["active"] is False
    assert "disabled" in run("staff", "list").output
    assert envelope(run("staff", "enable", "ana", "--json"))["active"] is True


def test_serve_warns_only_off_loopback_without_tls() -> None:
    assert tls_warning("127.0.0.1", tls=False) is None
    assert tls_warning("::1", tls=False) is None
    assert tls_warning("localhost", tls=False) is None
    assert tls_warning("0.0.0.0", tls=True) is None
    warning = tls_warning("0.0.0.0", tls=False)
    assert warning and "without TLS" in warning and "--cert" in warning


def test_serve_needs_cert_and_key_together(run, tmp_path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    answer = run("serve", "--cert", str(cert))
    assert answer.exit_code == 2 and "--cert and --key go together" in answer.output


def test_serve_refuses_a_public_url_that_is_not_http(run) -> None:
    answer = run("serve", "--public-url", "desk.example.org")
    assert answer.exit_code == 2 and "--public-url must be an http(s) URL" in answer.output


def test_serve_refuses_a_trusted_proxy_that_is_not_an_address(run) -> None:
    answer = run("serve", "--trusted-proxy", "proxy.example.org")
    assert answer.exit_code == 2 and "is not an address" in answer.output


def test_the_desk_role_option_is_a_choice(run) -> None:
    answer = run("--staff-role", "admin", "staff", "list")
    assert answer.exit_code == 2 and "--staff-role" in answer.output

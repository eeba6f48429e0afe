"""A stand-in for Twilio's REST API on 127.0.0.1 (http.server): it checks each request as
Twilio does (HTTP basic auth with the account SID and auth token, the Messages resource's
form fields) and answers with Twilio's JSON shapes: 201 with the message's sid, or an
error body with its code (21211 invalid number, 21610 unsubscribed, 429, 500)."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-token-0123456789abcd"
FROM = "+15005550006"
ERRORS = {
    21211: (400, "The 'To' number is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
}


@dataclass
class FakeTwilio:
    sid: str = ACCOUNT_SID
    token: str = AUTH_TOKEN
    sent: list[dict[str, str]] = field(default_factory=list)  # accepted messages' fields
    refused_auth: int = 0
    script: dict[str, list[int]] = field(default_factory=dict)  # To -> error codes, in turn
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: int, message: str) -> None:
            self._answer(
                status,
                {
                    "code": code,
                    "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                },
            )

        def do_POST(self) -> None:
            expected = "Basic " + base64.b64encode(f"{fake.sid}:{fake.token}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                with fake.lock:
                    fake.refused_auth += 1
                self._error(401, 20003, "Authenticate")
                return
            if self.path != f"/2010-04-01/Accounts/{fake.sid}/Messages.json":
                self._error(404, 20404, "The requested resource was not found")
                return
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                self._error(400, 21100, "form encoding expected")
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            if not form.get("To") or not form.get("Body"):
                self._error(400, 21604, "A 'To' phone number and a 'Body' are required.")
                return
            if not form.get("From") and not form.get("MessagingServiceSid"):
                self._error(400, 21603, "A 'From' phone number is required.")
                return
            with fake.lock:
                codes = fake.script.get(form["To"], [])
                code = codes.pop(0) if codes else None
            if code is not None:
                status, message = ERRORS[code]
                self._error(status, code, message)
                return
            sid = "SM" + uuid.uuid4().hex
            with fake.lock:
                fake.sent.append({**form, "sid": sid})
            self._answer(
                201,
                {
                    "sid": sid,
                    "account_sid": fake.sid,
                    "to": form["To"],
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "body": form["Body"],
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{fake.sid}/Messages/{sid}.json",
                },
            )

    return Handler


def start(fake: FakeTwilio) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

"""A stand-in for Vonage's SMS API on 127.0.0.1 (http.server over TLS: the vonage library
speaks only https://{rest_host}): it checks each request as Vonage does (HTTP basic auth with
the API key and secret, POST /sms/json with the form fields from, to, text) and answers in the
SMS API's JSON shape: HTTP 200 with a message-id and status "0", or HTTP 200 with a non-zero
status and its error-text (the SMS API's way), or HTTP 429/500 for throttling and outages.

The certificate is self-signed for 127.0.0.1, made with `cryptography`; tests trust it
through REQUESTS_CA_BUNDLE (requests reads it; the library leaves its Session trusting the
environment)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import parse_qs

API_KEY = "a1b2c3d4"
API_SECRET = "fake-vonage-secret-0123456789"
SIGNATURE_SECRET = "fake-vonage-signature-secret-0123456789abcdef"
FROM = "+447700900000"
ERRORS = {  # the SMS API's status codes: in a 200 answer
    1: "Throttled",
    3: "Invalid to param",
    4: "Bad Credentials",
    5: "Internal Error",
    7: "Number barred",
    15: "Illegal Sender Address - rejected",
}


@dataclass
class FakeVonage:
    key: str = API_KEY
    secret: str = API_SECRET
    sent: list[dict[str, str]] = field(default_factory=list)  # accepted messages' fields
    refused_auth: int = 0
    script: dict[str, list[int]] = field(default_factory=dict)  # to -> codes (429/500: HTTP)
    lock: threading.Lock = field(default_factory=threading.Lock)
    host: str = ""  # 127.0.0.1:PORT, the client's rest_host
    cafile: str = ""


def _handler(fake: FakeVonage) -> type[BaseHTTPRequestHandler]:
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

        def _refuse(self, code: int, to: str = "") -> None:
            message = {"status": str(code), "error-text": ERRORS.get(code, "Error")}
            if to:
                message["to"] = to
            self._answer(200, {"message-count": "1", "messages": [message]})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if self.path != "/sms/json":
                self._answer(404, {"type": "not-found", "title": "Not Found"})
                return
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                self._refuse(2)
                return
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            expected = "Basic " + base64.b64encode(f"{fake.key}:{fake.secret}".encode()).decode()
            if self.headers.get("Authorization") != expected or "api_secret" in form:
                with fake.lock:
                    fake.refused_auth += 1
                self._refuse(4)
                return
            if not form.get("from") or not form.get("to") or not form.get("text"):
                self._refuse(2)
                return
            if form["to"].startswith("+") or not form["to"].isdigit():
                self._refuse(3, form["to"])
                return
            with fake.lock:
                codes = fake.script.get(form["to"], [])
                code = codes.pop(0) if codes else None
            if code in (429, 500):
                self._answer(
                    code, {"type": "error", "title": "Throttled" if code == 429 else "Error"}
                )
                return
            if code is not None:
                self._refuse(code, form["to"])
                return
            message_id = uuid.uuid4().hex[:16].upper()
            with fake.lock:
                fake.sent.append({**form, "message-id": message_id})
            self._answer(
                200,
                {
                    "message-count": "1",
                    "messages": [
                        {
                            "to": form["to"],
                            "message-id": message_id,
                            "status": "0",
                            "remaining-balance": "3.14159265",
                            "message-price": "0.03330000",
                            "network": "23410",
                            **({"client-ref": form["client-ref"]} if "client-ref" in form else {}),
                        }
                    ],
                },
            )

    return Handler


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # A fixed, wide validity: the suite moves Python's clock (--clock-at=+400d) but OpenSSL
    # checks the certificate against the machine's own, so neither may fall outside it.
    valid_from = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    valid_until = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "vonage-fake.pem", folder / "vonage-fake.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def start(fake: FakeVonage, folder: Path) -> ThreadingHTTPServer:
    cert, key = _certificate(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.host = f"127.0.0.1:{server.server_address[1]}"
    fake.cafile = str(cert)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

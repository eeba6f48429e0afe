"""Builders for delivery tests: queued messages, and a local SMS gateway (http.server) that
keeps what it accepted by idempotency key, as a real gateway does, with injected failures."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pendulum

from tests.conftest import STAFF
from waitlist_tui.domain.store import db as dbmod
from waitlist_tui.domain.store.models import Client, Clinic, OutboxMessage


def a_client(clinic: Clinic, phone: str = "+16175550142", email: str = "jane@example.com"):
    now = pendulum.now("UTC")
    return Client.create(
        clinic=clinic,
        first_name="Jane",
        last_name="Doe",
        phone=phone,
        email=email,
        created_at=now,
        updated_at=now,
        created_by=STAFF,
        updated_by=STAFF,
    )


def queue_messages(clinic: Clinic, client: Client, n: int, channel: str = "sms") -> list[str]:
    """n pending messages due now; returns their keys."""
    now = pendulum.now("UTC")
    recipient = client.phone if channel == "sms" else client.email
    rows = [
        {
            "id": uuid.uuid4(),
            "clinic": clinic.id,
            "client": client.id,
            "kind": "offer",
            "channel": channel,
            "recipient": recipient,
            "subject": "Subject" if channel == "email" else "",
            "body": f"Message {i}",
            "idempotency_key": f"test:{i:05d}:v1",
            "status": "pending",
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "created_by": STAFF,
        }
        for i in range(n)
    ]
    with dbmod.database.atomic():
        for start in range(0, n, 200):
            OutboxMessage.insert_many(rows[start : start + 200]).execute()
    return [r["idempotency_key"] for r in rows]


def row(key: str) -> OutboxMessage:
    return OutboxMessage.get(OutboxMessage.idempotency_key == key)


@dataclass
class Gateway:
    """What the fake gateway saw: every request's key, and the messages it accepted (once per
    key: a repeated key gets the first answer back and is not sent to the phone again)."""

    requests: list[str] = field(default_factory=list)
    accepted: dict[str, dict] = field(default_factory=dict)
    fail_first: dict[str, int] = field(default_factory=dict)  # key -> HTTP 503s before OK
    slow_first: dict[str, int] = field(default_factory=dict)  # key -> answers after a delay
    reject: set[str] = field(default_factory=set)  # key -> 400
    delay: float = 0.5
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, key: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(key)
            if key in self.reject:
                return 400, {"error": "bad number"}
            if self.fail_first.get(key, 0) > 0:
                self.fail_first[key] -= 1
                return 503, {"error": "busy"}
            slow = self.slow_first.get(key, 0) > 0
            if slow:
                self.slow_first[key] -= 1
            first = self.accepted.setdefault(key, {**body, "id": f"gw-{len(self.accepted)}"})
        if slow:  # accepted, but the answer comes after the client stopped waiting
            time.sleep(self.delay)
        return 200, {"id": first["id"]}

    def times_sent(self) -> Counter:
        return Counter(self.accepted)


def serve(gateway: Gateway) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw)
            key = self.headers.get("Idempotency-Key", "")
            assert key == body["idempotency_key"]
            status, answer = gateway.handle(key, body)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/send"

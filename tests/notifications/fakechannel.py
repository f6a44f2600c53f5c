"""A loopback stand-in for an app-message / SMS provider, and the small channel that talks to
it: registered through the app's configuration (``NOTIFY_EXTRA_CHANNELS``), never by patching.
It has the plug-in's shape (CHANNELS.md: ``send``, ``send_many``, ``reachable``; the address
looked up by ``recipient_id``) and the provider's (a token checked on every request, an HTTP
status per message, scripted failures), so escalation can be tested and benchmarked before the
real wecom and sms channels are merged. Used by tests/notifications and bench/fanout_channels.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gridapp.notifications.channels import Message, Outcome

TOKEN = "loopback-token"


@dataclass
class Got:
    to: str
    text: str
    notification_id: int
    status: int


class FakeProvider:
    """POST /send {"to", "text", "id"} with ``Authorization: Bearer TOKEN``: 200 {"ok": true},
    or the next scripted status (429 / 500 / 404 ...) from ``script``."""

    def __init__(self, record: bool = True) -> None:
        self.received: list[Got] = []
        self.count = 0
        self.script: deque[int] = deque()
        self.record = record
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body are two writes: without this, Nagle + delayed ACK cost
                # 40 ms a reply on a keep-alive connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"error": "bad token"})
                try:
                    data = json.loads(body)
                    to, text, nid = str(data["to"]), str(data["text"]), int(data["id"])
                except (ValueError, KeyError, TypeError):
                    return self._answer(400, {"error": "bad request"})
                if not to or not text:
                    return self._answer(400, {"error": "missing field"})
                with provider._lock:
                    status = provider.script.popleft() if provider.script else 200
                    provider.count += 1
                    if provider.record:
                        provider.received.append(Got(to, text, nid, status))
                self._answer(status, {"ok": status == 200})

            def _answer(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, address: str) -> list[Got]:
        return [g for g in self.received if g.to == address]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LoopbackChannel:
    """A channel named ``name`` sending to a ``FakeProvider`` at ``url``; ``addresses`` maps a
    user id to its address (a user without one is not reachable)."""

    def __init__(self, name: str, url: str, addresses: dict[int, str] | None = None) -> None:
        self.name = name
        self.url = url
        self.addresses: dict[int, str] = addresses if addresses is not None else {}
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []

    def reachable(self, user_ids: Iterable[int]) -> set[int]:
        return {u for u in user_ids if u in self.addresses}

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            host, port = self.url.removeprefix("http://").split(":")
            conn = self._local.conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._open:
            conn.close()
        self._open.clear()
        self._local = threading.local()

    def send(self, message: Message) -> Outcome:
        to = self.addresses.get(message.recipient_id)
        if not to:
            return Outcome(404, error="no address")
        body = json.dumps(
            {"to": to, "text": f"{message.title} {message.link}", "id": message.notification_id},
            ensure_ascii=False,
        ).encode()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            try:
                conn = self._conn()
                conn.request("POST", "/send", body, headers)
                reply = conn.getresponse()
                reply.read()
                return Outcome(reply.status, error="" if reply.status == 200 else reply.reason)
            except (OSError, http.client.HTTPException) as exc:
                self._local.conn.close()
                self._local.conn = None
                if attempt == 2:
                    return Outcome(None, error=f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def send_many(self, messages: list[Message]) -> list[Outcome]:
        return [self.send(m) for m in messages]


def _from_env(name: str) -> LoopbackChannel:
    import os

    url = os.environ[f"GRIDAPP_FAKE_{name.upper()}_URL"]
    pairs = os.environ.get(f"GRIDAPP_FAKE_{name.upper()}_ADDRESSES", "")
    addresses = {}
    for pair in pairs.split(";"):
        uid, _, address = pair.partition("=")
        if uid and address:
            addresses[int(uid)] = address
    return LoopbackChannel(name, url, addresses)


def wecom_from_env(app: Any) -> LoopbackChannel:
    """A consumer process's "wecom" (``GRIDAPP_NOTIFY_EXTRA_CHANNELS``)."""
    return _from_env("wecom")


def sms_from_env(app: Any) -> LoopbackChannel:
    return _from_env("sms")

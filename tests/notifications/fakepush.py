"""A fake Web Push service on 127.0.0.1: it checks what a real one checks and decrypts what a
browser would, with code independent of ours (pyjwt + cryptography for VAPID, http-ece for
aes128gcm). Used by the tests and by bench/push.py."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of a subscription: its ECDH key pair and auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        return b64u(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def to_json(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives in the browser."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64u(self.auth)},
        }


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    status: int
    payload: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


class FakePushService:
    def __init__(self, expected_key: str | None = None, decrypt: bool = True) -> None:
        self.expected_key = expected_key
        self.decrypt = decrypt
        self.subscribers: dict[str, Subscriber] = {}
        self.received: list[Received] = []
        self.replies: dict[str, deque[tuple[int, dict[str, str]]]] = {}
        self.count = 0
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers = service.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- set-up --------------------------------------------------------------------------

    def subscriber(self) -> Subscriber:
        token = b64u(os.urandom(12))
        sub = Subscriber(
            f"{self.origin}/push/{token}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        )
        self.subscribers[f"/push/{token}"] = sub
        return sub

    def reply(self, sub: Subscriber, *answers: tuple[int, dict[str, str]] | int) -> None:
        """Answer the next requests to ``sub`` with these statuses (then 201 again)."""
        path = sub.endpoint.removeprefix(self.origin)
        q = self.replies.setdefault(path, deque())
        for a in answers:
            q.append((a, {}) if isinstance(a, int) else a)

    def for_(self, sub: Subscriber) -> list[Received]:
        path = sub.endpoint.removeprefix(self.origin)
        return [r for r in self.received if r.path == path]

    # -- a request -----------------------------------------------------------------------

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        h = {k.lower(): v for k, v in headers.items()}
        rec = Received(path=path, headers=h, status=201)
        auth = h.get("authorization", "")
        try:
            scheme, _, params = auth.partition(" ")
            parts = dict(p.strip().split("=", 1) for p in params.split(","))
            assert scheme == "vapid", "Authorization scheme is not vapid"
            key = unb64u(parts["k"])
            assert len(key) == 65 and key[0] == 4, "k is not an uncompressed P-256 point"
            if self.expected_key:
                assert parts["k"] == self.expected_key, "k is not the server's key"
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
            claims = jwt.decode(
                parts["t"],
                public,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["exp", "aud", "sub"]},
            )
            assert claims["exp"] <= time.time() + 24 * 3600, "exp more than 24 h ahead"
            assert claims["sub"].startswith(("mailto:", "https:")), "sub is not a contact URI"
            rec.claims = claims
        except Exception as exc:  # noqa: BLE001
            rec.errors.append(f"vapid: {exc!r}")
        ttl = h.get("ttl", "")
        if not ttl.isdigit() or int(ttl) <= 0:
            rec.errors.append(f"TTL {ttl!r}")
        if h.get("urgency") not in {"very-low", "low", "normal", "high"}:
            rec.errors.append(f"Urgency {h.get('urgency')!r}")
        t = h.get("topic")  # optional (RFC 8030 §5.4); when sent, ≤32 URL-safe base64 chars
        if t is not None and (not t or len(t) > 32 or not all(c.isalnum() or c in "-_" for c in t)):
            rec.errors.append(f"Topic {t!r}")
        if h.get("content-encoding") != "aes128gcm":
            rec.errors.append("Content-Encoding is not aes128gcm")
        if len(body) > 4096:
            rec.errors.append(f"body of {len(body)} bytes")
        sub = self.subscribers.get(path)
        if sub is None:
            rec.errors.append("unknown subscription")
        elif self.decrypt:
            try:
                plain = http_ece.decrypt(
                    body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
                )
                rec.payload = json.loads(plain)
            except Exception as exc:  # noqa: BLE001
                rec.errors.append(f"decrypt: {exc!r}")
        return rec

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        rec = self.verify(path, headers, body) if self.decrypt else Received(path, {}, 201)
        with self.lock:
            self.count += 1
            q = self.replies.get(path)
            status, extra = q.popleft() if q else (201, {})
            if rec.errors:
                status, extra = 400, {}
            rec.status = status
            if self.decrypt:
                self.received.append(rec)
        return status, extra

"""Delivery channels: ``webpush`` (RFC 8030 + VAPID RFC 8292 + aes128gcm RFC 8291) and
``console`` (logs; the stand-in for SMS or WeChat template messages, unreachable from here).

A channel turns one ``Message`` into one ``Outcome``; what to do with the outcome (retry, prune,
give up) is decided in ``rules.judge`` and recorded by ``delivery``.

webpush 1.0.6 is used for the encryption only, through one ``WebPush`` per process configured
once with the subscriber, TTL and expiration. ``WebPush.get()`` is not called: it stores per-call
options on the instance (sticky, thread-unsafe), signs a fresh JWT per message, and drops the
port from ``aud`` (DEPENDENCIES.md pitfall 3). The JWT comes from ``vapid.tokens`` instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from webpush import WebPush

from gridapp.notifications import rules, vapid

log = logging.getLogger("gridapp.notifications")
console_log = logging.getLogger("gridapp.notifications.console")


@dataclass(frozen=True)
class Message:
    delivery_id: int
    notification_id: int
    recipient_id: int
    type: str
    title: str
    body: str
    link: str
    urgent: bool
    endpoint: str = ""
    p256dh: str = ""
    auth: str = ""

    def payload(self) -> bytes:
        """What the service worker receives (≤ 3,993 bytes of JSON; the inbox has it in full)."""
        return rules.build_payload(
            {
                "id": self.notification_id,
                "type": self.type,
                "title": self.title,
                "body": self.body,
                "link": self.link,
                "urgent": self.urgent,
            }
        )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: network error or timeout
    error: str = ""
    retry_after: str | None = None


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> Outcome: ...


class ConsoleChannel:
    name = "console"

    def send(self, message: Message) -> Outcome:
        console_log.info(
            "to user %s [%s] %s: %s %s",
            message.recipient_id,
            message.type,
            message.title,
            message.body[:200],
            message.link,
        )
        return Outcome(200)


@dataclass(frozen=True)
class _Keys:
    auth: str
    p256dh: str


@dataclass(frozen=True)
class _Subscription:
    """What ``WebPush._encrypt`` reads (``.keys.auth``, ``.keys.p256dh``), without re-validating
    the endpoint through pydantic for every message."""

    keys: _Keys


class WebPushChannel:
    name = "webpush"
    KEY_CHECK_INTERVAL = 30.0  # seconds between looks at the key file (rotation)

    def __init__(self, instance: str | Path, subject: str, ttl: int, timeout: float) -> None:
        if ttl <= 0:
            raise ValueError("PUSH_TTL must be positive: TTL 0 drops messages to offline devices")
        self.instance = Path(instance)
        self.subject = subject
        self.ttl = ttl
        self.timeout = timeout
        self._lock = threading.Lock()
        self._local = threading.local()
        self._keys: vapid.VapidKeys | None = None
        self._pusher: WebPush | None = None
        self._checked = 0.0
        self._proxies: dict[str, dict[str, str]] = {}
        self._sessions: list[requests.Session] = []

    # -- identity ------------------------------------------------------------------------

    def keys(self) -> vapid.VapidKeys:
        now = time.monotonic()
        if self._keys is not None and now - self._checked < self.KEY_CHECK_INTERVAL:
            return self._keys
        with self._lock:
            path = vapid.ensure_keys(self.instance)
            mtime = path.stat().st_mtime_ns
            if self._keys is None or self._keys.mtime_ns != mtime:
                keys = vapid.load_keys(self.instance)
                # Configured once per key pair; never given per-call options (pitfall 3).
                self._pusher = WebPush(
                    private_key=keys.private_pem,
                    public_key=keys.public_pem,
                    subscriber=self.subject.removeprefix("mailto:"),
                    ttl=self.ttl,
                    expiration=vapid.TOKEN_LIFETIME,
                )
                self._keys = keys
            self._checked = now
            return self._keys

    def encrypt(self, plaintext: bytes, p256dh: str, auth: str) -> bytes:
        if len(plaintext) > rules.MAX_PLAINTEXT:
            raise ValueError("plaintext over 3,993 bytes cannot be decrypted (RFC 8291)")
        self.keys()
        assert self._pusher is not None
        return self._pusher._encrypt(plaintext, _Subscription(_Keys(auth=auth, p256dh=p256dh)))

    # -- transport -----------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A pooled keep-alive session per thread (requests sessions are not thread-safe)."""
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            # Reading proxy/netrc settings from the environment on every request costs about a
            # third of requests' CPU per POST; they are resolved once per origin instead.
            s.trust_env = False
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0)
            s.mount("https://", adapter)
            s.mount("http://", adapter)
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        """Close every thread's pooled connections (tests, benchmark, shutdown)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
        self._local = threading.local()

    def proxies(self, endpoint: str) -> dict[str, str]:
        origin = rules.audience(endpoint)
        found = self._proxies.get(origin)
        if found is None:
            found = self._proxies[origin] = requests.utils.get_environ_proxies(endpoint)
        return found

    def headers(self, message: Message, keys: vapid.VapidKeys) -> dict[str, str]:
        return {
            "Authorization": vapid.tokens.header(keys, message.endpoint, self.subject),
            "TTL": str(self.ttl),
            "Urgency": rules.urgency(message.type, message.urgent),
            "Topic": rules.topic(message.type, self.topic_subject(message)),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }

    @staticmethod
    def topic_subject(message: Message) -> str:
        """What "the same kind" means: the same event type about the same record (its link),
        so a newer "due soon" for a task replaces the older one; announcements never merge."""
        if message.type == "announcement" or not message.link:
            return f"n{message.notification_id}"
        return message.link

    def send(self, message: Message) -> Outcome:
        keys = self.keys()
        body = self.encrypt(message.payload(), message.p256dh, message.auth)
        try:
            resp = self.session().post(
                message.endpoint,
                data=body,
                headers=self.headers(message, keys),
                proxies=self.proxies(message.endpoint),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            return Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])
        error = "" if resp.ok else (resp.text or resp.reason or "")[:500]
        return Outcome(resp.status_code, error=error, retry_after=resp.headers.get("Retry-After"))


def settings(app: Flask | None = None) -> dict[str, Any]:
    """Push settings with their defaults (``GRIDAPP_PUSH_*`` in the environment, or config)."""
    cfg = (app or current_app).config
    return {
        "subject": cfg.get("PUSH_SUBJECT")
        or os.environ.get("GRIDAPP_PUSH_SUBJECT", "mailto:ops@gridapp.invalid"),
        "ttl": int(cfg.get("PUSH_TTL") or os.environ.get("GRIDAPP_PUSH_TTL", 2 * 86400)),
        "timeout": float(cfg.get("PUSH_TIMEOUT") or 10.0),
        "max_attempts": int(cfg.get("PUSH_MAX_ATTEMPTS") or 5),
        "backoff_base": float(cfg.get("PUSH_BACKOFF_BASE") or 30.0),
        # http:// endpoints on 127.0.0.1 only for tests and the local fake push service.
        "allow_local_http": bool(
            cfg.get("PUSH_ALLOW_LOCAL_HTTP")
            or cfg.get("TESTING")
            or os.environ.get("GRIDAPP_PUSH_ALLOW_LOCAL_HTTP") == "1"
        ),
    }


def channels(app: Flask | None = None) -> dict[str, Channel]:
    """The app's channels, built once per app (one WebPush, one token cache, pooled sessions)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    built = app.extensions.get("gridapp.channels")
    if built is None:
        s = settings(app)
        built = {
            "webpush": WebPushChannel(app.instance_path, s["subject"], s["ttl"], s["timeout"]),
            "console": ConsoleChannel(),
        }
        app.extensions["gridapp.channels"] = built
    return built


CHANNEL_NAMES = ("webpush", "console")
DEFAULT_ENABLED = {"webpush": True, "console": False}

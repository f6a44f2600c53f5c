"""Delivery channels: ``webpush`` (RFC 8030 + VAPID RFC 8292 + aes128gcm RFC 8291) and
``console`` (logs; the stand-in for SMS or WeChat template messages, unreachable from here).

A channel turns one ``Message`` into one ``Outcome``; what to do with the outcome (retry, prune,
give up) is decided in ``rules.judge`` and recorded by ``delivery``.

webpush 1.0.6's ``WebPush.get()`` is not used: it stores per-call options on the instance
(sticky, thread-unsafe), signs a fresh JWT per message, and drops the port from ``aud``
(DEPENDENCIES.md pitfall 3). The JWT comes from ``vapid.tokens``; the aes128gcm record from
webpush's own aes128gcm encryption (``WebPush._encrypt``, the settled choice; pinned at 1.0.6
because it is a private method), through one instance configured once per key pair; the POST goes over ``pushhttp.PushHTTP``
(keep-alive connections per origin; a fraction of ``requests``' CPU per message).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from flask import Flask, current_app
from webpush import WebPush

from gridapp.notifications import rules, vapid
from gridapp.notifications.endpoints import Policy
from gridapp.notifications.pushhttp import PushHTTP, Reply

log = logging.getLogger("gridapp.notifications")


class _Keys:
    __slots__ = ("auth", "p256dh")

    def __init__(self, auth: str, p256dh: str) -> None:
        self.auth = auth
        self.p256dh = p256dh


class _Subscription:
    """What ``WebPush._encrypt`` reads (``.keys.auth``, ``.keys.p256dh``), without re-validating
    the endpoint through pydantic for every message (a plain class: a frozen dataclass cost
    microseconds per message to build)."""

    __slots__ = ("keys",)

    def __init__(self, keys: _Keys) -> None:
        self.keys = keys


console_log = logging.getLogger("gridapp.notifications.console")


class Message(NamedTuple):
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
        return rules.build_payload(self.fields())

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.notification_id}
        if self.recipient_id:
            # The delivery id, for the service worker's acknowledgment (POST
            # /api/v1/notifications/<id>/received): a worker's push only (residents' echo-wall
            # pushes carry their subscription's id here and are not acknowledged).
            out["d"] = self.delivery_id
        out.update(
            type=self.type, title=self.title, body=self.body, link=self.link, urgent=self.urgent
        )
        return out


class Payloads:
    """Payloads for a batch: messages that differ only in their notification and delivery ids
    (an announcement's fan-out) share one serialised template with the ids spliced in, instead
    of a JSON encoding each. Byte-identical to ``Message.payload()``."""

    MARGIN = 48  # room for any two ids' digits: a template this close to the limit is not used

    def __init__(self) -> None:
        self._templates: dict[tuple, tuple[bytes, ...] | None] = {}

    def __call__(self, m: Message) -> bytes:
        with_d = bool(m.recipient_id)
        key = (m.type, m.title, m.body, m.link, m.urgent, with_d)
        parts = self._templates.get(key, False)
        if parts is False:
            raw = rules.dump(m._replace(notification_id=0, delivery_id=0).fields())
            head = b'{"id":0,"d":0,' if with_d else b'{"id":0,'
            # Only when no id can make it need shortening: then build_payload returns it as is.
            fits = raw.startswith(head) and len(raw) + self.MARGIN <= rules.MAX_PLAINTEXT
            tail = raw[len(head) - 1 :]
            parts = None
            if fits:
                parts = (b'{"id":', b',"d":', tail) if with_d else (b'{"id":', tail)
            self._templates[key] = parts
        if parts is None:
            return m.payload()
        if len(parts) == 3:
            return b"%s%d%s%d%s" % (parts[0], m.notification_id, parts[1], m.delivery_id, parts[2])
        return b"%s%d%s" % (parts[0], m.notification_id, parts[1])


class Outcome(NamedTuple):
    status_code: int | None  # None: network error or timeout
    error: str = ""
    retry_after: str | None = None


class Channel(Protocol):
    """CHANNELS.md: ``send``; optionally ``send_many`` (a batch) and ``reachable`` (the users it
    can reach now; a channel without it is taken to reach everyone)."""

    name: str

    def send(self, message: Message) -> Outcome: ...


def reachable(channel: Channel, user_ids: Iterable[int]) -> set[int]:
    """``channel.reachable(user_ids)``, or every one of them when the channel cannot tell."""
    ids = set(user_ids)
    fn = getattr(channel, "reachable", None)
    return set(fn(ids)) & ids if fn is not None and ids else ids


class ConsoleChannel:
    """Logs the message: reaches everyone it is sent to, but counts for nobody in ``reach``
    (no ``reachable``: a log line is not a phone)."""

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


class WebPushChannel:
    name = "webpush"
    KEY_CHECK_INTERVAL = 30.0  # seconds between looks at the key file (rotation)

    def __init__(
        self,
        instance: str | Path,
        subject: str,
        ttl: int,
        timeout: float,
        pipeline: int = 32,
        policy: Policy | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("PUSH_TTL must be positive: TTL 0 drops messages to offline devices")
        self.instance = Path(instance)
        self.subject = subject
        self.ttl = ttl
        self.timeout = timeout
        self.pipeline = max(1, pipeline)  # requests per connection run; 1: no pipelining
        self._lock = threading.Lock()
        self._keys: vapid.VapidKeys | None = None
        self._checked = 0.0
        self.http = PushHTTP(policy=policy)
        self._pushers: dict[int, WebPush] = {}
        self._ttl = str(ttl)

    # -- identity ------------------------------------------------------------------------

    def keys(self) -> vapid.VapidKeys:
        now = time.monotonic()
        if self._keys is not None and now - self._checked < self.KEY_CHECK_INTERVAL:
            return self._keys
        with self._lock:
            path = vapid.ensure_keys(self.instance)
            mtime = path.stat().st_mtime_ns
            if self._keys is None or self._keys.mtime_ns != mtime:
                self._keys = vapid.load_keys(self.instance)
            self._checked = now
            return self._keys

    def _pusher(self, keys: vapid.VapidKeys) -> WebPush:
        pusher = self._pushers.get(id(keys))
        if pusher is None:
            # Configured once per key pair; never given per-call options (pitfall 3).
            pusher = WebPush(
                private_key=keys.private_pem,
                public_key=keys.public_pem,
                subscriber=self.subject.removeprefix("mailto:"),
                ttl=self.ttl,
            )
            self._pushers = {id(keys): pusher}
        return pusher

    def encrypt(self, plaintext: bytes, p256dh: str, auth: str) -> bytes:
        if len(plaintext) > rules.MAX_PLAINTEXT:
            raise ValueError("plaintext over 3,993 bytes cannot be decrypted (RFC 8291)")
        pusher = self._pusher(self.keys())
        return pusher._encrypt(plaintext, _Subscription(_Keys(auth=auth, p256dh=p256dh)))

    # -- transport -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections (tests, benchmark, shutdown)."""
        self.http.close()

    def headers(self, message: Message, keys: vapid.VapidKeys) -> dict[str, str]:
        out = {
            "Authorization": vapid.tokens.header(keys, message.endpoint, self.subject),
            "TTL": self._ttl,
            "Urgency": rules.urgency(message.type, message.urgent),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        subject = self.topic_subject(message)
        if subject:
            out["Topic"] = rules.topic(message.type, subject)
        return out

    def head(self, message: Message, authorization: str) -> str:
        """``headers()`` rendered as request header lines, for ``PushHTTP.post_many``. Every
        value is ours (a JWT, digits, a keyword, base64url), so none can hold a line break."""
        subject = self.topic_subject(message)
        return (
            f"Authorization: {authorization}\r\nTTL: {self._ttl}\r\n"
            f"Urgency: {rules.urgency(message.type, message.urgent)}\r\n"
            + (f"Topic: {rules.topic(message.type, subject)}\r\n" if subject else "")
            + "Content-Encoding: aes128gcm\r\nContent-Type: application/octet-stream\r\n"
        )

    def prepare(
        self, messages: list[Message], keys: vapid.VapidKeys
    ) -> tuple[list[tuple[str, bytes, str]], list[int], dict[int, Exception]]:
        """Encrypt and address each message: (requests, their message indexes, errors)."""
        pusher = self._pusher(keys)
        payload = Payloads()
        auth: dict[str, str] = {}  # Authorization per endpoint prefix (one JWT per origin)
        requests, index, errors = [], [], {}
        for i, m in enumerate(messages):
            try:
                plain = payload(m)
                if len(plain) > rules.MAX_PLAINTEXT:
                    raise ValueError("plaintext over 3,993 bytes cannot be decrypted (RFC 8291)")
                body = pusher._encrypt(plain, _Subscription(_Keys(m.auth, m.p256dh)))
                cut = m.endpoint.find("/", 8)  # after "https://host[:port]"
                prefix = m.endpoint if cut < 0 else m.endpoint[:cut]
                value = auth.get(prefix) if vapid.tokens.enabled else None
                if value is None:
                    value = auth[prefix] = vapid.tokens.header(keys, m.endpoint, self.subject)
                requests.append((m.endpoint, body, self.head(m, value)))
                index.append(i)
            except Exception as exc:  # noqa: BLE001  (a bad subscription key fails one message)
                log.warning("push %s not encrypted: %s", m.delivery_id, exc)
                errors[i] = exc
        return requests, index, errors

    @staticmethod
    def topic_subject(message: Message) -> str:
        """What "the same kind" means: the same event type about the same record (its link),
        so a newer "due soon" for a task replaces the older one. Announcements and messages
        without a record never merge: "" sends no Topic at all (a topic of their own would
        replace nothing, and costs a hash and a header per message of a fan-out)."""
        if message.type == "announcement" or not message.link:
            return ""
        return message.link

    def reachable(self, user_ids: Iterable[int]) -> set[int]:
        """Users with at least one subscription (a gone one is deleted on its 404/410)."""
        from gridapp.notifications.delivery import in_ids
        from gridapp.notifications.models import PushSubscription

        ids = list(user_ids)
        if not ids:
            return set()
        q = PushSubscription.select(PushSubscription.user).where(in_ids(PushSubscription.user, ids))
        return {r[0] for r in q.distinct().tuples()}

    def send(self, message: Message) -> Outcome:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[Outcome]:
        """Encrypt each message for its subscription and POST them, pipelined on a few
        connections per push service."""
        requests, index, errors = self.prepare(messages, self.keys())
        outcomes: list[Outcome | None] = [None] * len(messages)
        for i, exc in errors.items():
            outcomes[i] = Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])
        for i, reply in zip(
            index, self.http.post_many(requests, self.timeout, depth=self.pipeline), strict=True
        ):
            outcomes[i] = _outcome(reply)
        return outcomes  # type: ignore[return-value]


def _outcome(reply: Reply | Exception) -> Outcome:
    if isinstance(reply, Exception):  # refused, reset, timeout, TLS, malformed reply
        return Outcome(None, error=f"{type(reply).__name__}: {reply}"[:500])
    error = ""
    if not reply.ok:
        error = (reply.body.decode("utf-8", "replace") or reply.reason or "")[:500]
    return Outcome(reply.status, error=error, retry_after=reply.headers.get("retry-after"))


def settings(app: Flask | None = None) -> dict[str, Any]:
    """Push settings with their defaults (``GRIDAPP_PUSH_*`` in the environment, or config)."""
    cfg = (app or current_app).config
    return {
        "subject": cfg.get("PUSH_SUBJECT")
        or os.environ.get("GRIDAPP_PUSH_SUBJECT", "mailto:ops@gridapp.invalid"),
        "ttl": int(cfg.get("PUSH_TTL") or os.environ.get("GRIDAPP_PUSH_TTL", 2 * 86400)),
        "timeout": float(cfg.get("PUSH_TIMEOUT") or 10.0),
        # HTTP/1.1 pipelining depth per connection (1 turns it off).
        "pipeline": int(cfg.get("PUSH_PIPELINE") or os.environ.get("GRIDAPP_PUSH_PIPELINE", 32)),
        "max_attempts": int(cfg.get("PUSH_MAX_ATTEMPTS") or 5),
        "backoff_base": float(cfg.get("PUSH_BACKOFF_BASE") or 30.0),
        # A local push service (tests, the fake one): http:// and https:// on 127.0.0.1/::1.
        # Explicit only — never implied by TESTING — since it opens loopback to the job consumer.
        "allow_local_http": bool(
            cfg.get("PUSH_ALLOW_LOCAL_HTTP")
            or os.environ.get("GRIDAPP_PUSH_ALLOW_LOCAL_HTTP") == "1"
        ),
        # Push services' hosts (``*.`` for subdomains); empty means endpoints.DEFAULT_PUSH_HOSTS.
        "allowed_hosts": _list(cfg.get("PUSH_ALLOWED_HOSTS"), "GRIDAPP_PUSH_ALLOWED_HOSTS"),
        # Addresses or networks allowed although not public (e.g. a push relay on a LAN).
        "allowed_addresses": _list(
            cfg.get("PUSH_ALLOWED_ADDRESSES"), "GRIDAPP_PUSH_ALLOWED_ADDRESSES"
        ),
    }


def _list(value: Any, env: str) -> list[str]:
    if value is None:
        value = os.environ.get(env, "")
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v and v.strip()]


def push_policy(app: Flask | None = None) -> Policy:
    """The app's SSRF guard for push endpoints (``endpoints.Policy``), reading its config at
    each use: checked when a browser subscribes and again on each connection the job opens."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    policy = app.extensions.get("gridapp.push_policy")
    if policy is None:
        policy = app.extensions["gridapp.push_policy"] = Policy(lambda: settings(app))
    return policy


def channels(app: Flask | None = None) -> dict[str, Channel]:
    """The app's channels, built once per app (one WebPush, one token cache, pooled sessions)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    built = app.extensions.get("gridapp.channels")
    if built is None:
        s = settings(app)
        built = {
            "webpush": WebPushChannel(
                app.instance_path,
                s["subject"],
                s["ttl"],
                s["timeout"],
                s["pipeline"],
                policy=push_policy(app),
            ),
            "console": ConsoleChannel(),
        }
        from gridapp.notifications import sms, wecom

        if wecom.configured(app):
            built["wecom"] = wecom.build(app)
        if sms.configured(app):
            built["sms"] = sms.build(app)
        # Channels named in the configuration (tests' loopback fakes, a deployment's own
        # plug-in): ``NOTIFY_EXTRA_CHANNELS = {name: channel or build(app)}``; they replace a
        # built-in one of the same name.
        for name, extra in extra_channels(app).items():
            built[name] = extra(app) if callable(extra) and not hasattr(extra, "send") else extra
        app.extensions["gridapp.channels"] = built
    return built


def extra_channels(app: Flask) -> dict[str, Any]:
    """``NOTIFY_EXTRA_CHANNELS`` (a dict of channels or ``build(app)`` callables), or in the
    environment ``GRIDAPP_NOTIFY_EXTRA_CHANNELS="name=package.module:build,..."`` so that a job
    consumer started as a process (tests/notifications/test_escalation_worker.py) gets the
    same channels as the web process."""
    import importlib

    value = app.config.get("NOTIFY_EXTRA_CHANNELS")
    if value is None:
        value = os.environ.get("GRIDAPP_NOTIFY_EXTRA_CHANNELS", "")
    if isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for item in str(value).split(","):
        name, _, target = item.strip().partition("=")
        if not name or ":" not in target:
            continue
        module, _, attr = target.partition(":")
        out[name] = getattr(importlib.import_module(module), attr)
    return out


# Every channel a policy may name (hops.CHANNELS), in the order settings pages list them; only
# the configured ones (``channels(app)``) are ever used.
CHANNEL_NAMES = ("webpush", "wecom", "sms", "console")
DEFAULT_ENABLED = {"webpush": True, "wecom": True, "sms": True, "console": False}

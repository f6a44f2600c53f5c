"""The server's VAPID identity (RFC 8292): one P-256 key pair in the instance folder, and the
signed JWTs cached per push-service origin.

Signing costs about half of a message's CPU (DEPENDENCIES.md pitfall 3), so a token is signed
once per origin and reused until ``REFRESH_MARGIN`` before it expires; the cache is shared by
every thread of the process. The ``aud`` claim is computed here (with the port) rather than by
webpush 1.0.6, which drops it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webpush.vapid import VAPID

from gridapp.notifications.rules import audience

KEY_FILE = "vapid_private.pem"
TOKEN_LIFETIME = 12 * 3600  # RFC 8292 §2: exp no more than 24 h ahead
REFRESH_MARGIN = 600  # re-sign this long before exp so a token never expires in flight


@dataclass(frozen=True)
class VapidKeys:
    private_pem: bytes
    public_pem: bytes
    private_key: ec.EllipticCurvePrivateKey
    application_server_key: str  # base64url, uncompressed point (65 bytes)
    mtime_ns: int


def key_path(instance: str | Path) -> Path:
    return Path(instance) / KEY_FILE


def _write_private(path: Path, pem: bytes, *, replace: bool) -> None:
    """Write the PEM with mode 0600: O_EXCL on first run (two processes starting together keep
    one key); on rotation a temp file renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)


def ensure_keys(instance: str | Path) -> Path:
    """Generate the key pair on first run; returns the private key's path."""
    path = key_path(instance)
    if not path.exists():
        private_pem, _public, _key = VAPID.generate_keys()
        _write_private(path, private_pem, replace=False)
    return path


def rotate_keys(instance: str | Path) -> str:
    """Replace the key pair; returns the new applicationServerKey."""
    path = key_path(instance)
    private_pem, _public, key = VAPID.generate_keys()
    _write_private(path, private_pem, replace=True)
    return key


def load_keys(instance: str | Path) -> VapidKeys:
    path = ensure_keys(instance)
    pem = path.read_bytes()
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    public = private_key.public_key()
    return VapidKeys(
        private_pem=pem,
        public_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        private_key=private_key,
        application_server_key=VAPID.get_application_server_key(public),
        mtime_ns=path.stat().st_mtime_ns,
    )


class TokenCache:
    """VAPID JWTs per (key, origin), shared by the process's threads."""

    def __init__(self, lifetime: int = TOKEN_LIFETIME, margin: int = REFRESH_MARGIN) -> None:
        if not 0 < lifetime <= 24 * 3600:
            raise ValueError("VAPID token lifetime must be within 24 hours")
        self.lifetime = lifetime
        self.margin = margin
        self._tokens: dict[tuple[str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.signatures = 0  # how many JWTs were signed (tests and the benchmark read it)
        self.enabled = True  # the benchmark turns reuse off to measure what it saves

    def header(self, keys: VapidKeys, endpoint: str, subject: str, now: float | None = None) -> str:
        """The ``Authorization: vapid t=<jwt>, k=<key>`` value for ``endpoint``."""
        now = time.time() if now is None else now
        aud = audience(endpoint)
        cache_key = (keys.application_server_key, aud)
        if self.enabled:
            with self._lock:
                hit = self._tokens.get(cache_key)
            if hit is not None and hit[1] - self.margin > now:
                return f"vapid t={hit[0]}, k={keys.application_server_key}"
        exp = int(now) + self.lifetime
        token = jwt.encode(
            {"aud": aud, "exp": exp, "sub": subject}, keys.private_key, algorithm="ES256"
        )
        with self._lock:
            self.signatures += 1
            if self.enabled:
                self._tokens[cache_key] = (token, exp)
        return f"vapid t={token}, k={keys.application_server_key}"

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.signatures = 0


tokens = TokenCache()

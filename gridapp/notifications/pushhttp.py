"""A lean, pooled HTTP/1.1 client for POSTing push messages (DEPENDENCIES.md: "HTTP delivery is
ours, pooled").

Why not ``requests``: a POST through a ``requests.Session`` cost ~0.9 ms of CPU (urllib3 ~0.5 ms)
against ~0.12 ms for the message's encryption, so the transport dominated a fan-out. A push
request is always the same shape (POST, a few headers, a small body, a small reply), so this client
does only that: keep-alive connections per origin (idle ones kept LIFO, at most ``max_idle``),
request line + headers + body in one ``sendall`` (one loopback/TCP segment instead of two),
TCP_NODELAY, a minimal reply parser (Content-Length, chunked, or read-to-close), a timeout on
every socket operation, TLS with the system's default verification, and the environment's proxy
(``https_proxy``/``http_proxy``/``no_proxy``, resolved once per origin; CONNECT tunnel for https).

A reused keep-alive connection that the server closed meanwhile is detected before use (readable
while idle) and, if it closes during the request before any reply byte, the request is sent once
more on a fresh connection, as browsers and urllib3 do for idempotent-enough requests; a push
service that already accepted it would show the message once (same Topic replaces it).
"""

from __future__ import annotations

import re
import select
import socket
import ssl
import threading
import urllib.request
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
MAX_LINE = 65536
MAX_HEADERS = 100
MAX_BODY = 1 << 20  # replies are small; never buffer an unbounded body


class HTTPError(OSError):
    """A protocol-level failure (malformed reply, oversize reply)."""


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names (last value wins)
    body: bytes

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int
    host_header: str
    proxy: tuple[str, int] | None  # (host, port) of an http proxy, or None


class _Conn:
    __slots__ = ("sock", "rfile", "reused")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.reused = False

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def dropped(self) -> bool:
        """An idle keep-alive connection with anything to read (buffered, or readable on the
        socket: EOF or junk) has been closed by the server or is out of step: not reusable."""
        try:
            self.sock.settimeout(0)
            try:
                if self.rfile.peek(1):
                    return True
            except ssl.SSLWantReadError:
                pass  # TLS: nothing buffered and no application data waiting
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                return True
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)


class PushHTTP:
    """Thread-safe: connections are taken from the pool for one request and given back."""

    def __init__(self, max_idle: int = 8, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_idle = max_idle  # per origin; at least the window of post_many
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[_Conn]] = {}
        self._origins: dict[str, tuple[_Origin, str]] = {}
        self._ssl = ssl_context  # default: the system's trust store, hostname checked
        self.connections_opened = 0  # tests and the benchmark read it
        # Origins that closed a connection inside a pipelined run: one request at a time.
        self._serial: set[_Origin] = set()

    # -- origins ---------------------------------------------------------------------------

    def _origin(self, url: str) -> tuple[_Origin, str]:
        """(origin, request target) for ``url``; origins are resolved once (proxy included)."""
        m = _PREFIX.match(url)
        prefix = m.group() if m else url
        found = self._origins.get(prefix)
        if found is None:
            parts = urlsplit(url)
            key = url[: len(parts.scheme) + 3 + len(parts.netloc)]
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {url[:100]}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            default = port == (443 if parts.scheme == "https" else 80)
            host = parts.hostname
            shown = f"[{host}]" if ":" in host else host
            proxy = None
            proxies = urllib.request.getproxies()
            proxy_url = proxies.get(parts.scheme)
            if proxy_url and not urllib.request.proxy_bypass(parts.netloc):
                p = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
                if p.scheme == "http" and p.hostname:
                    proxy = (p.hostname, p.port or 80)
            origin = _Origin(
                parts.scheme, host, port, shown if default else f"{shown}:{port}", proxy
            )
            found = (origin, key)
            if m is not None and len(self._origins) < 1000:
                with self._lock:
                    self._origins[prefix] = found
        origin, key = found
        if origin.proxy and origin.scheme == "http":
            return origin, url  # absolute-form through a plain proxy
        rest = url[len(key) :]
        target = rest.split("#", 1)[0] or "/"
        if not target.startswith("/"):
            target = "/" + target
        return origin, target

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _connect(self, origin: _Origin, timeout: float) -> _Conn:
        address = origin.proxy or (origin.host, origin.port)
        sock = socket.create_connection(address, timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.scheme == "https":
                if origin.proxy:
                    self._tunnel(sock, origin)
                sock = self._context().wrap_socket(sock, server_hostname=origin.host)
        except BaseException:
            sock.close()
            raise
        self.connections_opened += 1
        return _Conn(sock)

    @staticmethod
    def _tunnel(sock: socket.socket, origin: _Origin) -> None:
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        target = f"{host}:{origin.port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
        f = sock.makefile("rb")
        try:
            status, _reason, _headers = _read_head(f)
        finally:
            f.close()
        if status != 200:
            raise HTTPError(f"proxy CONNECT answered {status}")

    def _take(self, origin: _Origin, timeout: float) -> _Conn:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(origin, timeout)
            if conn.dropped():
                conn.close()
                continue
            conn.sock.settimeout(timeout)
            conn.reused = True
            return conn

    def _give(self, origin: _Origin, conn: _Conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    # -- requests --------------------------------------------------------------------------

    def _request(
        self, url: str, body: bytes, headers: dict[str, str] | str
    ) -> tuple[_Origin, bytes]:
        """The request's bytes. ``headers`` is a dict, or header lines already rendered
        (``"Name: value\r\n"`` each) by a caller that built them from values it controls."""
        origin, target = self._origin(url)
        if isinstance(headers, str):
            head = headers
        else:
            for value in headers.values():
                if "\r" in value or "\n" in value:
                    raise ValueError("a header value contains a line break")
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return origin, (
            f"POST {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body

    def post_many(
        self,
        requests: list[tuple[str, bytes, dict[str, str] | str]],
        timeout: float,
        window: int = 8,
        depth: int = 16,
    ) -> list[Reply | Exception]:
        """POST each (url, body, headers): up to ``window`` keep-alive connections at once, and
        on each a run of up to ``depth`` requests to one origin written with one ``sendall``
        (HTTP/1.1 pipelining, RFC 9112 §9.3.2; the replies come back in order). A push service
        answers the connections in parallel; the sender makes a few system calls per run instead
        of several per message. Returns a Reply or the OSError / ValueError for each request,
        in order. ``timeout`` bounds each wait for a reply.

        A run's requests left unanswered when the server closes the connection are sent again
        on a new one: after a ``Connection: close`` reply they were not processed (RFC 9112
        §9.6); after a silent close or reset they are retried once, as a single request on a
        reused connection is, and that origin gets one request per connection from then on (a
        server or middlebox that mishandles pipelining). A reply that never comes fails the
        rest of its run with TimeoutError (head-of-line blocking is pipelining's price)."""
        return _Batch(self, requests, timeout, window, depth).run()

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        """POST ``body``; raises OSError (incl. TimeoutError, ssl errors, HTTPError) on failure."""
        origin, request = self._request(url, body, headers)
        for attempt in (0, 1):
            conn = self._take(origin, timeout)
            try:
                conn.sock.sendall(request)
                reply, keep = _read_reply(conn.rfile)
            except _Closed:
                conn.close()
                if conn.reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: once more
                raise ConnectionResetError("connection closed before any reply") from None
            except (ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if conn.reused and attempt == 0:
                    continue
                raise exc
            except BaseException:
                conn.close()
                raise
            if keep:
                self._give(origin, conn)
            else:
                conn.close()
            return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            pools, self._idle = self._idle, {}
        for conns in pools.values():
            for c in conns:
                c.close()


class _Batch:
    """One ``post_many`` call: the requests' bytes, the runs still to send, the replies."""

    def __init__(self, http: PushHTTP, requests, timeout: float, window: int, depth: int):
        self.http, self.timeout, self.window, self.depth = http, timeout, window, max(1, depth)
        self.results: list[Reply | Exception | None] = [None] * len(requests)
        self.data: list[bytes] = [b""] * len(requests)
        self.todo: deque[tuple[_Origin, list[tuple[int, int]]]] = deque()
        per_origin: dict[_Origin, list[tuple[int, int]]] = {}
        for i, req in enumerate(requests):
            try:
                origin, self.data[i] = http._request(*req)
            except (OSError, ValueError) as exc:
                self.results[i] = exc
                continue
            per_origin.setdefault(origin, []).append((i, 0))
        for origin, items in per_origin.items():
            self.plan(origin, items)

    def plan(self, origin: _Origin, items: list[tuple[int, int]]) -> None:
        """Queue (request index, attempt) pairs as runs for ``origin``."""
        size = 1 if origin in self.http._serial else self.depth
        for k in range(0, len(items), size):
            self.todo.append((origin, items[k : k + size]))

    def fail(self, items: list[tuple[int, int]], exc: Exception) -> None:
        for i, _attempt in items:
            self.results[i] = exc

    def again(self, origin: _Origin, items: list[tuple[int, int]], exc: Exception) -> None:
        """Unanswered after the connection closed: a first attempt goes out once more."""
        self.fail([it for it in items if it[1] != 0], exc)
        retry = [(i, 1) for i, attempt in items if attempt == 0]
        if retry:
            self.plan(origin, retry)

    def run(self) -> list[Reply | Exception]:
        flying: dict[socket.socket, tuple[_Conn, _Origin, list[tuple[int, int]]]] = {}
        try:
            while self.todo or flying:
                while self.todo and len(flying) < self.window:
                    origin, run = self.todo.popleft()
                    conn = self.send(origin, run)
                    if conn is not None:
                        flying[conn.sock] = (conn, origin, run)
                if not flying:
                    continue
                ready, _, _ = select.select(list(flying), [], [], self.timeout)
                if not ready:
                    for conn, _origin, run in flying.values():
                        conn.close()
                        self.fail(run, TimeoutError("no reply within the timeout"))
                    flying.clear()
                    continue
                for sock in ready:
                    conn, origin, run = flying.pop(sock)
                    self.read(conn, origin, run)
        except BaseException:
            for conn, _origin, _run in flying.values():
                conn.close()
            raise
        return self.results  # type: ignore[return-value]

    def send(self, origin: _Origin, run: list[tuple[int, int]]) -> _Conn | None:
        try:
            conn = self.http._take(origin, self.timeout)
        except (OSError, ValueError) as exc:
            self.fail(run, exc)
            return None
        try:
            conn.sock.sendall(b"".join([self.data[i] for i, _attempt in run]))
        except (ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            (self.again if conn.reused else self.fail)(origin, run, exc)  # type: ignore[operator]
            return None
        except OSError as exc:
            conn.close()
            self.fail(run, exc)
            return None
        return conn

    def read(self, conn: _Conn, origin: _Origin, run: list[tuple[int, int]]) -> None:
        """The replies of one run, in order (the first byte is there; the rest follow at the
        server's pace, each wait bounded by the socket's timeout)."""
        for k, (i, _attempt) in enumerate(run):
            try:
                reply, keep = _read_reply(conn.rfile)
            except (_Closed, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if len(run) > 1:
                    self.http._serial.add(origin)  # closed inside a pipelined run
                err = exc
                if isinstance(exc, _Closed):
                    err = ConnectionResetError("connection closed before any reply")
                if conn.reused or len(run) > 1:
                    self.again(origin, run[k:], err)
                else:
                    self.fail(run[k:], err)
                return
            except OSError as exc:  # timeout, TLS, malformed reply
                conn.close()
                self.fail(run[k:], exc)
                return
            except BaseException:
                conn.close()
                raise
            self.results[i] = reply
            if not keep:
                conn.close()
                if k + 1 < len(run):
                    # Announced close: the rest was not processed; the same attempt again.
                    self.plan(origin, run[k + 1 :])
                return
        self.http._give(origin, conn)


class _Closed(Exception):
    """The peer closed the connection before sending a status line."""


def _readline(f) -> bytes:
    line = f.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise HTTPError("reply line too long")
    return line


def _read_head(f) -> tuple[int, str, dict[str, str]]:
    line = _readline(f)
    if not line:
        raise _Closed
    try:
        version, status_s, *rest = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        status = int(status_s)
    except ValueError:
        raise HTTPError(f"malformed status line {line[:80]!r}") from None
    if not version.startswith("HTTP/") or not 100 <= status <= 999:
        raise HTTPError(f"malformed status line {line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _readline(f)
        if line in (b"\r\n", b"\n", b""):
            break
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    else:
        raise HTTPError("too many reply headers")
    headers[":version"] = version
    return status, rest[0] if rest else "", headers


def _read_exact(f, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise HTTPError("reply body truncated")
    return data


def _read_reply(f) -> tuple[Reply, bool]:
    """The final reply (1xx skipped) and whether the connection may be reused."""
    while True:
        status, reason, headers = _read_head(f)
        if status >= 200 or status == 101:
            break
    version = headers.pop(":version")
    conn_tokens = headers.get("connection", "").lower()
    keep = "close" not in conn_tokens and (version != "HTTP/1.0" or "keep-alive" in conn_tokens)
    if status in (204, 304) or 100 <= status < 200:
        return Reply(status, reason, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts, total = [], 0
        while True:
            size_line = _readline(f).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise HTTPError("malformed chunk size") from None
            if size == 0:
                while _readline(f) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > MAX_BODY:
                raise HTTPError("reply body too large")
            parts.append(_read_exact(f, size))
            _readline(f)
        return Reply(status, reason, headers, b"".join(parts)), keep
    length = headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise HTTPError("malformed Content-Length") from None
        if not 0 <= n <= MAX_BODY:
            raise HTTPError("reply body too large")
        return Reply(status, reason, headers, _read_exact(f, n)), keep
    body = f.read(MAX_BODY + 1)  # no length: the body ends when the server closes
    if len(body) > MAX_BODY:
        raise HTTPError("reply body too large")
    return Reply(status, reason, headers, body), False

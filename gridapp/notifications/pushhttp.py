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
from typing import NamedTuple
from urllib.parse import urlsplit

from gridapp.notifications.endpoints import Policy, RefusedEndpoint

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
MAX_HEAD = 65536
RECV_SIZE = 262144
MAX_HEADERS = 100
MAX_BODY = 1 << 20  # replies are small; never buffer an unbounded body


class HTTPError(OSError):
    """A protocol-level failure (malformed reply, oversize reply)."""


class Reply(NamedTuple):
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
    __slots__ = ("sock", "buf", "reused")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()  # received and not yet parsed
        self.reused = False

    def close(self) -> None:
        self.sock.close()

    def recv(self) -> bytes:
        """What has arrived (b"" at EOF): one system call for every reply already there; a
        TLS record's remaining plaintext is drained too (select cannot see it)."""
        data = self.sock.recv(RECV_SIZE)
        if data and isinstance(self.sock, ssl.SSLSocket):
            while self.sock.pending():
                data += self.sock.recv(RECV_SIZE)
        return data

    def dropped(self) -> bool:
        """An idle keep-alive connection with anything to read (EOF or junk) has been closed by
        the server or is out of step: not reusable. A TLS 1.3 session ticket arriving while
        idle is not application data (SSLWantReadError) and leaves it reusable."""
        if self.buf:
            return True
        try:
            self.sock.settimeout(0)
            try:
                self.sock.recv(1)
            except (BlockingIOError, ssl.SSLWantReadError):
                return False
        except (OSError, ValueError):
            pass
        return True


class PushHTTP:
    """Thread-safe: connections are taken from the pool for one request and given back."""

    def __init__(
        self,
        max_idle: int = 8,
        ssl_context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.max_idle = max_idle  # per origin; at least the window of post_many
        # SSRF guard (endpoints.Policy): each new connection goes only to addresses it checked
        # just now, so a name re-resolved to a private address (DNS rebinding) is refused.
        self.policy = policy
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
        sock = self._open(origin, timeout)
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

    def _open(self, origin: _Origin, timeout: float) -> socket.socket:
        if origin.proxy:  # the operator's proxy resolves the name; the host list still holds
            problem = self.policy.host_problem(origin.host) if self.policy else None
            if problem:
                raise RefusedEndpoint(problem)
            return socket.create_connection(origin.proxy, timeout=timeout)
        if self.policy is None:
            return socket.create_connection((origin.host, origin.port), timeout=timeout)
        error: OSError | None = None
        for ip in self.policy.addresses(origin.host, origin.port):
            try:
                return socket.create_connection((ip, origin.port), timeout=timeout)
            except OSError as exc:
                error = exc
        raise error or RefusedEndpoint(f"{origin.host}: no address")

    @staticmethod
    def _tunnel(sock: socket.socket, origin: _Origin) -> None:
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        target = f"{host}:{origin.port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
        buf = bytearray()
        while True:
            data = sock.recv(RECV_SIZE)
            buf += data
            parsed = _parse(buf, eof=not data, connect=True)
            if parsed is not None:
                break
        if parsed[0].status != 200:
            raise HTTPError(f"proxy CONNECT answered {parsed[0].status}")

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
        depth: int = 32,
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

    def post(self, url: str, body: bytes, headers: dict[str, str] | str, timeout: float) -> Reply:
        """POST ``body``; raises OSError (incl. TimeoutError, ssl errors, HTTPError) on failure
        and ValueError for a bad URL or header."""
        (reply,) = _Batch(self, [(url, body, headers)], timeout, 1, 1).run()
        if isinstance(reply, Exception):
            raise reply
        return reply

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
        # socket → (connection, origin, run, replies received so far)
        flying: dict[socket.socket, list] = {}
        try:
            while self.todo or flying:
                while self.todo and len(flying) < self.window:
                    origin, run = self.todo.popleft()
                    conn = self.send(origin, run)
                    if conn is not None:
                        flying[conn.sock] = [conn, origin, run, 0]
                if not flying:
                    continue
                ready, _, _ = select.select(list(flying), [], [], self.timeout)
                if not ready:
                    for conn, _origin, run, k in flying.values():
                        conn.close()
                        self.fail(run[k:], TimeoutError("no reply within the timeout"))
                    flying.clear()
                    continue
                for sock in ready:
                    entry = flying[sock]
                    entry[3] = self.read(*entry)
                    if entry[3] < 0:
                        del flying[sock]
        except BaseException:
            for entry in flying.values():
                entry[0].close()
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

    def read(self, conn: _Conn, origin: _Origin, run: list[tuple[int, int]], k: int) -> int:
        """Take what arrived on a readable connection and every complete reply in it, without
        waiting for the rest. Returns how many of the run are answered, or -1 once the
        connection is done with (all answered, closed, or failed)."""
        try:
            data = conn.recv()
        except (ConnectionResetError, BrokenPipeError) as exc:
            return self.closed(conn, origin, run, k, exc)
        except OSError as exc:  # TLS error, timeout inside a TLS record
            conn.close()
            self.fail(run[k:], exc)
            return -1
        conn.buf += data
        while k < len(run):
            try:
                parsed = _parse(conn.buf, eof=not data)
            except _Closed:
                return self.closed(conn, origin, run, k, None)
            except HTTPError as exc:
                conn.close()
                self.fail(run[k:], exc)
                return -1
            if parsed is None:
                if not data:  # EOF inside a reply
                    conn.close()
                    self.fail(run[k:], HTTPError("reply truncated"))
                    return -1
                return k  # the rest has not arrived yet
            reply, keep, used = parsed
            del conn.buf[:used]
            self.results[run[k][0]] = reply
            k += 1
            if not keep:
                conn.close()
                if k < len(run):
                    # Announced close: the rest was not processed; the same attempt again.
                    self.plan(origin, run[k:])
                return -1
        if conn.buf or not data:
            conn.close()  # bytes nobody asked for, or closed: not reusable
        else:
            self.http._give(origin, conn)
        return -1

    def closed(self, conn: _Conn, origin: _Origin, run: list[tuple[int, int]], k: int, exc) -> int:
        """The server closed (or reset) the connection before answering ``run[k:]``."""
        conn.close()
        if len(run) > 1:
            self.http._serial.add(origin)  # closed inside a pipelined run
        err = exc or ConnectionResetError("connection closed before any reply")
        if conn.reused or len(run) > 1:
            self.again(origin, run[k:], err)
        else:
            self.fail(run[k:], err)
        return -1


class _Closed(ConnectionResetError):
    """The peer closed the connection before sending a status line."""


def _parse(buf: bytearray, eof: bool, connect: bool = False) -> tuple[Reply, bool, int] | None:
    """The first final reply in ``buf`` (1xx replies skipped): (reply, keep-alive, bytes used),
    or None while more bytes are needed. ``eof``: nothing more will come (a body without a
    length ends there). Raises _Closed at EOF before any byte of a reply, HTTPError for a
    malformed or oversize reply. ``connect``: the reply to CONNECT (a 2xx has no body)."""
    pos = 0
    while True:
        if eof and pos == len(buf):
            raise _Closed
        end = buf.find(b"\r\n\r\n", pos)
        sep = 4
        # Bare LF line ends are tolerated (RFC 9112 §2.2); only a bare-LF end before the CRLF
        # one matters, so the search stops there (not at the end of a pipelined buffer).
        lf = buf.find(b"\n\n", pos) if end < 0 else buf.find(b"\n\n", pos, end + 1)
        if lf >= 0 and (end < 0 or lf < end):
            end, sep = lf, 2
        if end < 0:
            if len(buf) - pos > MAX_HEAD:
                raise HTTPError("reply head too long")
            if eof:
                raise HTTPError("reply truncated")
            return None
        if end - pos > MAX_HEAD:
            raise HTTPError("reply head too long")
        lines = buf[pos:end].decode("latin-1").split("\n")
        status_line = lines[0].rstrip("\r")
        try:
            version, status_s, *rest = status_line.split(" ", 2)
            status = int(status_s)
        except ValueError:
            raise HTTPError(f"malformed status line {status_line[:80]!r}") from None
        if not version.startswith("HTTP/") or not 100 <= status <= 999:
            raise HTTPError(f"malformed status line {status_line[:80]!r}")
        if len(lines) > MAX_HEADERS + 1:
            raise HTTPError("too many reply headers")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.rstrip().lower()] = value.strip()
        pos = end + sep
        if 100 <= status < 200 and status != 101:
            continue  # interim reply
        break
    reason = rest[0] if rest else ""
    conn_tokens = headers.get("connection", "").lower()
    keep = "close" not in conn_tokens and (version != "HTTP/1.0" or "keep-alive" in conn_tokens)
    if status in (204, 304) or status == 101 or (connect and 200 <= status < 300):
        return Reply(status, reason, headers, b""), keep, pos
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts, total = [], 0
        while True:
            eol = buf.find(b"\n", pos)
            if eol < 0:
                return _need(buf, pos, eof)
            size_line = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise HTTPError("malformed chunk size") from None
            pos = eol + 1
            if size == 0:
                while True:  # trailers, up to an empty line
                    eol = buf.find(b"\n", pos)
                    if eol < 0:
                        return _need(buf, pos, eof)
                    line, pos = buf[pos:eol], eol + 1
                    if line in (b"", b"\r"):
                        return Reply(status, reason, headers, b"".join(parts)), keep, pos
            total += size
            if total > MAX_BODY:
                raise HTTPError("reply body too large")
            if len(buf) < pos + size + 1:
                return _need(buf, pos, eof)
            parts.append(bytes(buf[pos : pos + size]))
            pos += size
            eol = buf.find(b"\n", pos)  # the CRLF after the chunk
            if eol < 0:
                return _need(buf, pos, eof)
            pos = eol + 1
    length = headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise HTTPError("malformed Content-Length") from None
        if not 0 <= n <= MAX_BODY:
            raise HTTPError("reply body too large")
        if len(buf) < pos + n:
            return _need(buf, pos, eof)
        return Reply(status, reason, headers, bytes(buf[pos : pos + n])), keep, pos + n
    # No length: the body ends when the server closes.
    if len(buf) - pos > MAX_BODY:
        raise HTTPError("reply body too large")
    if not eof:
        return None
    return Reply(status, reason, headers, bytes(buf[pos:])), False, len(buf)


def _need(buf: bytearray, pos: int, eof: bool) -> None:
    """More bytes are needed: fine unless the connection has ended."""
    if eof:
        raise HTTPError("reply truncated")
    return None

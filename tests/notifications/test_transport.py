"""Our aes128gcm encryption and the pooled push HTTP client, against independent peers:
webpush 1.0.6 and http-ece for the bytes, raw sockets for the HTTP edge cases."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import subprocess
import threading
import time

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gridapp.notifications.pushhttp import PushHTTP


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def subscriber():
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return key, b64u(pub), os.urandom(16)


def test_encryption_decrypts_with_http_ece_and_is_fresh_each_time(subscriber, tmp_path):
    from gridapp.notifications.channels import WebPushChannel

    key, p256dh, auth = subscriber
    channel = WebPushChannel(tmp_path, "mailto:ops@example.org", 3600, 5.0)
    a = channel.encrypt(b'{"id":1}', p256dh, b64u(auth))
    b = channel.encrypt(b'{"id":1}', p256dh, b64u(auth))
    assert a != b and a[:16] != b[:16]  # new salt and key pair per message
    for body in (a, b):
        plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
        assert plain == b'{"id":1}'
    channel.close()


CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


class RawServer:
    """Answers each request on a connection with the next scripted reply (bytes), or closes
    (None), or stays silent ("hang")."""

    def __init__(self, script, tls: ssl.SSLContext | None = None):
        self.script = list(script)
        self.tls = tls
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://localhost:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        if self.tls:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                return
        f = conn.makefile("rb")  # closed with the socket (its fd lives while f does)
        with conn, f:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = f.readline()
                    if not line:
                        return
                    head += line
                length = int(
                    [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][
                        0
                    ].split(b":")[1]
                )
                self.requests.append(head + f.read(length))
                reply = self.script.pop(0) if self.script else CREATED
                if reply is None:
                    return
                if reply == "hang":
                    time.sleep(2)
                    return
                try:
                    conn.sendall(reply)
                except OSError:
                    return  # the client gave up on this connection
                if b"connection: close" in reply.lower():
                    return  # as a real server does (RFC 9112 §9.6)

    def close(self):
        self.sock.close()


def test_post_sends_headers_once_and_reuses_the_connection():
    srv = RawServer([b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"] * 3)
    http = PushHTTP()
    try:
        for _ in range(3):
            r = http.post(srv.url + "/push/abc?x=1", b"BODY", {"TTL": "60"}, timeout=2)
            assert r.status == 201
        assert http.connections_opened == 1
        first = srv.requests[0]
        assert first.startswith(b"POST /push/abc?x=1 HTTP/1.1\r\nHost: localhost:")
        assert b"\r\nTTL: 60\r\n" in first and b"\r\nContent-Length: 4\r\n" in first
        assert first.endswith(b"\r\n\r\nBODY")
    finally:
        http.close()
        srv.close()


def test_chunked_reply_retry_after_and_connection_close():
    srv = RawServer(
        [
            b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nslow \r\n4;x=y\r\ndown\r\n0\r\n\r\n",
            b"HTTP/1.1 410 Gone\r\nConnection: close\r\nContent-Length: 4\r\n\r\ngone",
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        ]
    )
    http = PushHTTP()
    try:
        r = http.post(srv.url + "/a", b"x", {}, timeout=2)
        assert (r.status, r.headers["retry-after"], r.body) == (429, "7", b"slow down")
        r = http.post(srv.url + "/a", b"x", {}, timeout=2)
        assert (r.status, r.body) == (410, b"gone")
        assert http.post(srv.url + "/a", b"x", {}, timeout=2).status == 201
        assert http.connections_opened == 2  # a new connection after "Connection: close"
    finally:
        http.close()
        srv.close()


def test_a_keep_alive_connection_closed_by_the_server_is_replaced():
    # The server closes after the first reply without saying so; the next POST must still work.
    srv = RawServer([b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", None])
    http = PushHTTP()
    try:
        assert http.post(srv.url + "/a", b"1", {}, timeout=2).status == 201
        time.sleep(0.05)
        assert http.post(srv.url + "/a", b"2", {}, timeout=2).status == 201
        assert http.connections_opened == 2
    finally:
        http.close()
        srv.close()


def test_post_many_keeps_order_and_times_out_what_never_answers():
    srv = RawServer(
        [
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            "hang",
            b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno",
        ]
    )
    http = PushHTTP()
    try:
        t0 = time.monotonic()
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {}) for i in range(3)], timeout=0.5, window=1, depth=1
        )
        assert time.monotonic() - t0 < 1.5
        assert out[0].status == 201
        assert isinstance(out[1], TimeoutError)
        assert out[2].status == 500 and out[2].body == b"no"
    finally:
        http.close()
        srv.close()


def test_pipelined_runs_share_one_connection_and_keep_order():
    replies = [
        f"HTTP/1.1 {201 + i % 3} X\r\nContent-Length: 1\r\n\r\n{i % 10}".encode() for i in range(7)
    ]
    srv = RawServer(replies)
    http = PushHTTP()
    try:
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {"TTL": "1"}) for i in range(7)],
            timeout=2,
            window=1,
            depth=4,
        )
        assert [(r.status, r.body) for r in out] == [
            (201 + i % 3, str(i).encode()) for i in range(7)
        ]
        assert [r.split(b" ", 2)[1] for r in srv.requests] == [f"/{i}".encode() for i in range(7)]
        assert http.connections_opened == 1  # two runs (4 + 3) on one keep-alive connection
    finally:
        http.close()
        srv.close()


def test_a_run_cut_by_connection_close_goes_on_over_a_new_connection():
    # The server announces "Connection: close" on its second reply: the two requests behind it
    # were not processed and are sent again; pipelining stays on for this origin.
    closing = b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    srv = RawServer([CREATED, closing])
    http = PushHTTP()
    try:
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {}) for i in range(4)], timeout=2, window=1, depth=4
        )
        assert [r.status for r in out] == [201] * 4
        assert http.connections_opened == 2
        assert sorted(r.split(b" ", 2)[1] for r in srv.requests[-2:]) == [b"/2", b"/3"]
        assert not http._serial
    finally:
        http.close()
        srv.close()


def test_a_silent_close_inside_a_run_retries_once_and_stops_pipelining():
    srv = RawServer([CREATED, None])  # answers one, then drops the connection without a word
    http = PushHTTP()
    try:
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {}) for i in range(3)], timeout=2, window=1, depth=3
        )
        assert [r.status for r in out] == [201] * 3
        assert len(http._serial) == 1  # this origin now gets one request per connection
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {}) for i in range(2)], timeout=2, window=1, depth=3
        )
        assert [r.status for r in out] == [201] * 2
    finally:
        http.close()
        srv.close()


def test_head_of_line_blocking_times_out_the_rest_of_the_run():
    srv = RawServer([CREATED, "hang"])
    http = PushHTTP()
    try:
        out = http.post_many(
            [(srv.url + f"/{i}", b"x", {}) for i in range(3)], timeout=0.5, window=1, depth=3
        )
        assert out[0].status == 201
        assert isinstance(out[1], TimeoutError) and isinstance(out[2], TimeoutError)
    finally:
        http.close()
        srv.close()


def test_refused_connection_is_an_error_not_an_exception():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    (out,) = PushHTTP().post_many([(f"http://127.0.0.1:{port}/x", b"x", {})], timeout=1)
    assert isinstance(out, ConnectionRefusedError)
    with pytest.raises(ValueError):
        PushHTTP().post("ftp://example.com/x", b"", {}, timeout=1)
    with pytest.raises(ValueError):
        PushHTTP().post("http://127.0.0.1:1/x", b"", {"Topic": "a\r\nEvil: 1"}, timeout=1)


def test_tls_connections_are_verified_and_reused(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    srv = RawServer([CREATED] * 3, tls=server_ctx)
    try:
        # The system trust store does not know this certificate: refused.
        (out,) = PushHTTP().post_many([(srv.url + "/a", b"x", {})], timeout=2)
        assert isinstance(out, ssl.SSLError)
        http = PushHTTP(ssl_context=ssl.create_default_context(cafile=str(cert)))
        for _ in range(3):
            assert http.post(srv.url + "/a", b"x", {}, timeout=2).status == 201
            time.sleep(0.02)  # let TLS 1.3 session tickets arrive while idle
        assert http.connections_opened == 1
        http.close()
    finally:
        srv.close()


REPLIES = [
    b"HTTP/1.1 201 Created\r\nLocation: /m/1\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad\r\nContent-Length: 3\r\n\r\nbad",
    b"HTTP/1.1 429 Slow\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nslow \r\n4;x=y\r\ndown\r\n0\r\nX-Trailer: 1\r\n\r\n",
    b"HTTP/1.1 201 Created\nContent-Length: 2\n\nok",  # bare LF line ends
    b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
]


@pytest.mark.parametrize("raw", REPLIES)
def test_a_reply_is_parsed_whatever_the_pieces_it_arrives_in(raw):
    from gridapp.notifications.pushhttp import _parse

    whole = _parse(bytearray(raw + b"HTTP/1.1 201"), eof=False)
    assert whole is not None and whole[2] == len(raw)  # the next reply's bytes are left alone
    for cut in range(len(raw)):
        assert _parse(bytearray(raw[:cut]), eof=False) is None, cut
    assert _parse(bytearray(raw), eof=False) == whole


def test_malformed_truncated_and_read_to_close_replies():
    from gridapp.notifications.pushhttp import HTTPError, _Closed, _parse

    with pytest.raises(_Closed):
        _parse(bytearray(), eof=True)
    with pytest.raises(HTTPError):
        _parse(bytearray(b"HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\nshort"), eof=True)
    with pytest.raises(HTTPError):
        _parse(bytearray(b"SMTP ready\r\n\r\n"), eof=False)
    with pytest.raises(HTTPError):
        _parse(bytearray(b"HTTP/1.1 201 X\r\nContent-Length: 99999999\r\n\r\n"), eof=False)
    with pytest.raises(HTTPError):
        _parse(bytearray(b"HTTP/1.1 201 X\r\n" + b"X: y\r\n" * 20000), eof=False)
    raw = bytearray(b"HTTP/1.0 500 Oops\r\n\r\nto the end")
    assert _parse(raw, eof=False) is None
    reply, keep, used = _parse(raw, eof=True)
    assert (reply.status, reply.body, keep, used) == (500, b"to the end", False, len(raw))


def test_replies_trickling_in_small_pieces_are_put_together():
    class Trickle(RawServer):
        def handle(self, conn):
            with conn:
                data = b""
                while data.count(b"\r\n\r\nx") < 3:
                    data += conn.recv(65536)
                for raw in REPLIES[:3]:
                    for k in range(0, len(raw), 7):
                        conn.sendall(raw[k : k + 7])
                        time.sleep(0.001)
                time.sleep(0.2)

    srv = Trickle([])
    http = PushHTTP()
    try:
        out = http.post_many([(srv.url + f"/{i}", b"x", {}) for i in range(3)], timeout=2)
        assert [(r.status, r.body) for r in out] == [(201, b""), (400, b"bad"), (429, b"slow down")]
        assert out[2].headers["retry-after"] == "7"
    finally:
        http.close()
        srv.close()

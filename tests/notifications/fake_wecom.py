"""A fake 企业微信 (WeCom) server API on 127.0.0.1 (real HTTP, random port), checking what the
real one checks, and its OAuth authorize page:

- ``GET /cgi-bin/gettoken?corpid&corpsecret``: 40013 for a wrong corp id, 40001 for a wrong
  secret, else a fresh token with ``expires_in``; a token is valid for ``expires_in`` seconds
  of the fake's clock (``advance()``), or until ``expire_tokens()``.
- every other call needs ``access_token``: 41001 missing, 40014 unknown, 42001 expired.
- ``POST /cgi-bin/message/send``: JSON body; ``touser`` (members joined by ``|``, ≤ 1,000),
  ``agentid`` the app's, ``msgtype`` ``textcard`` with title (≤ 128 bytes), description
  (≤ 512 bytes), url (≤ 2,048 bytes) and btntxt (≤ 4 characters): 40008/40058/44004 etc.
  otherwise. Unknown members come back in ``invaliduser``; all unknown: 81013.
- ``GET /cgi-bin/auth/getuserinfo?code``: ``userid`` for a code issued by the authorize page
  (used once, 5 minutes), 40029 otherwise.
- ``GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state``: as if
  the member ``signed_in`` opened it in WeCom's browser: 302 to ``redirect_uri?code&state``.

Failures are scripted per path: ``fail("message/send", errcode=45009)`` answers the next call
with that errcode (``status=502`` for an HTTP error), in order.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Sent:
    touser: list[str]
    agentid: int
    textcard: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeWecom:
    corp_id: str = "ww-test-corp"
    secret: str = "test-secret-0123456789"
    agent_id: int = 1000002
    expires_in: int = 7200
    members: set[str] = field(default_factory=lambda: {"zhangsan", "lisi", "wangwu"})
    signed_in: str | None = None  # the member using WeCom's browser (authorize page)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.offset = 0.0  # the fake's clock: time.time() + offset
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.codes: dict[str, tuple[str, float]] = {}
        self.script: dict[str, deque] = defaultdict(deque)
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.gettoken_calls = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- test controls -----------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def authorize_url(self) -> str:
        return self.base + "/connect/oauth2/authorize"

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def expire_tokens(self) -> None:
        """Every issued token expires now (WeCom may end a token early)."""
        with self.lock:
            for t in self.tokens:
                self.tokens[t] = self.now() - 1

    def fail(self, path: str, errcode: int | None = None, status: int = 200, **extra: Any) -> None:
        self.script[path].append((status, errcode, extra))

    def config(self) -> dict[str, Any]:
        """App config pointing gridapp at this fake."""
        return {
            "WECOM_CORP_ID": self.corp_id,
            "WECOM_AGENT_ID": str(self.agent_id),
            "WECOM_SECRET": self.secret,
            "WECOM_API_BASE": self.base,
            "WECOM_AUTHORIZE_URL": self.authorize_url,
            "WECOM_PUBLIC_URL": "https://grid.example.cn",
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the API -----------------------------------------------------------------------------

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers=None) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body: dict[str, Any] = {}
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            try:
                body = json.loads(h.rfile.read(length) or b"{}")
            except ValueError:
                return self._reply(h, 200, {"errcode": 47001, "errmsg": "data format error"})
        path = parts.path.removeprefix("/cgi-bin/")
        with self.lock:
            self.calls.append((path, {**query, **({"body": body} if body else {})}))
            scripted = self.script[path].popleft() if self.script[path] else None
        if path == "/connect/oauth2/authorize":
            return self._authorize(h, query)
        if scripted is not None:
            status, errcode, extra = scripted
            if status != 200:
                return self._reply(h, status, None)
            return self._reply(h, 200, {"errcode": errcode, "errmsg": "scripted", **extra})
        if path == "gettoken":
            return self._reply(h, 200, self._gettoken(query))
        problem = self._check_token(query)
        if problem:
            return self._reply(h, 200, problem)
        if path == "message/send" and method == "POST":
            return self._reply(h, 200, self._send(body))
        if path == "auth/getuserinfo" and method == "GET":
            return self._reply(h, 200, self._getuserinfo(query))
        return self._reply(h, 404, {"errcode": 404, "errmsg": "no such api"})

    def _gettoken(self, q: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.gettoken_calls += 1
        if not q.get("corpid"):
            return {"errcode": 41002, "errmsg": "corpid missing"}
        if q["corpid"] != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if not q.get("corpsecret"):
            return {"errcode": 41004, "errmsg": "corpsecret missing"}
        if q["corpsecret"] != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = secrets.token_urlsafe(48)
        with self.lock:
            self.tokens[token] = self.now() + self.expires_in
        return {"errcode": 0, "errmsg": "ok", "access_token": token,
                "expires_in": self.expires_in}  # fmt: skip

    def _check_token(self, q: dict[str, str]) -> dict[str, Any] | None:
        token = q.get("access_token")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if expiry <= self.now():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _send(self, b: dict[str, Any]) -> dict[str, Any]:
        if b.get("agentid") != self.agent_id:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        if b.get("msgtype") != "textcard":
            return {"errcode": 40008, "errmsg": "invalid message type"}
        touser = [u for u in str(b.get("touser") or "").split("|") if u]
        if not touser:
            return {"errcode": 40031, "errmsg": "invalid user list"}
        if len(touser) > 1000:
            return {"errcode": 40032, "errmsg": "user list too long"}
        card = b.get("textcard")
        if not isinstance(card, dict):
            return {"errcode": 41016, "errmsg": "textcard missing"}
        for key, limit in (("title", 128), ("description", 512), ("url", 2048)):
            value = card.get(key)
            if not isinstance(value, str) or not value:
                return {"errcode": 41016, "errmsg": f"textcard.{key} missing"}
            if len(value.encode()) > limit:
                return {"errcode": 40058, "errmsg": f"textcard.{key} exceeds {limit} bytes"}
        if not card["url"].startswith(("http://", "https://")):
            return {"errcode": 40066, "errmsg": "invalid url"}
        if len(str(card.get("btntxt", ""))) > 4:
            return {"errcode": 40058, "errmsg": "btntxt exceeds 4 characters"}
        known = {m.lower() for m in self.members}
        invalid = [u for u in touser if u.lower() not in known]
        if len(invalid) == len(touser):
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        with self.lock:
            self.sent.append(Sent([u for u in touser if u not in invalid], b["agentid"], card, b))
        out: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": secrets.token_hex(8)}
        if invalid:
            out["invaliduser"] = "|".join(invalid)
        return out

    def _getuserinfo(self, q: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            found = self.codes.pop(q.get("code", ""), None)
        if found is None or found[1] < self.now():
            return {"errcode": 40029, "errmsg": "invalid code"}
        who = found[0]
        if who.startswith("openid:"):  # not a member of the corp
            return {"errcode": 0, "errmsg": "ok", "openid": who[7:]}
        return {"errcode": 0, "errmsg": "ok", "userid": who, "user_ticket": "t"}

    def _authorize(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        if q.get("appid") != self.corp_id or q.get("response_type") != "code":
            return self._reply(h, 400, {"error": "bad authorize request"})
        if q.get("scope") not in ("snsapi_base", "snsapi_privateinfo"):
            return self._reply(h, 400, {"error": "bad scope"})
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return self._reply(h, 400, {"error": "bad redirect_uri"})
        if self.signed_in is None:
            return self._reply(h, 403, {"error": "not in WeCom"})
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = (self.signed_in, self.now() + 300)
        sep = "&" if "?" in redirect else "?"
        target = redirect + sep + urlencode({"code": code, "state": q.get("state", "")})
        self._reply(h, 302, None, {"Location": target})

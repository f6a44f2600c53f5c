"""A fake Tencent Cloud SMS API (``SendSms``, version 2021-01-11) on 127.0.0.1: real HTTP, and it
checks what the real one checks, with code independent of the SDK's:

- the TC3-HMAC-SHA256 signature (canonical request over content-type and host, the payload's
  SHA-256, the date/service scope), recomputed with the same secret: a wrong secret answers
  ``AuthFailure.SignatureFailure``, an unknown SecretId ``AuthFailure.SecretIdNotFound``, a
  timestamp more than five minutes off ``AuthFailure.SignatureExpire``;
- the action and version headers, the SdkAppId, the signature name (签名) and the template id
  against what was approved, the template's parameter count and each parameter's length;
- each number in E.164 mainland format (``+861xxxxxxxxxx``), and 1 to 200 numbers per
  request (more: ``LimitExceeded.PhoneNumberCountLimit`` for the whole request), each answered
  by its own ``SendStatus`` (an invalid number fails alone).

It fills the approved template in (``{1}``, ``{2}``: Tencent's placeholders) and bills segments
as the real one does (70 characters in one, parts of 67). ``script(code, phone=None)`` makes
the next send (to that number) fail: a per-number code (that number's status only; without a
number, the first number of the next request) (``LimitExceeded...``,
``InvalidParameterValue.IncorrectPhoneNumber``, ``FailedOperation.PhoneNumberInBlacklist``), a
request error (``InternalError``, ``RequestLimitExceeded``) or ``"http500"`` (a bare server
error). ``report(url, serial, ok)`` posts a status report to the app's callback, as Tencent
does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import math
import re
import threading
import time
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PHONE = re.compile(r"^\+861[3-9]\d{9}$")
PER_NUMBER = ("LimitExceeded.", "InvalidParameterValue.IncorrectPhoneNumber",
              "FailedOperation.PhoneNumberInBlacklist")  # fmt: skip


@dataclass
class Sent:
    phone: str
    template_id: str
    params: list[str]
    sign: str
    text: str
    serial: str
    fee: int


@dataclass
class Call:
    action: str
    status: int
    code: str  # "Ok", a per-number code or the request's error code


def tc3_signature(secret_key: str, method: str, host: str, content_type: str, payload: bytes,
                  timestamp: int, service: str = "sms") -> str:  # fmt: skip
    """Tencent's TC3-HMAC-SHA256, step by step from its API documentation."""
    canonical = "\n".join([
        method, "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ])  # fmt: skip
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([
        "TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest(),
    ])  # fmt: skip

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeSms:
    def __init__(self, secret_id: str = "AKIDfake0001", secret_key: str = "fake-secret-key-0001",
                 app_id: str = "1400000001", signs: tuple[str, ...] = ("网格通",)) -> None:  # fmt: skip
        self.secret_id, self.secret_key, self.app_id = secret_id, secret_key, app_id
        self.signs = set(signs)
        self.templates: dict[str, str] = {}  # id → approved text with {1}, {2}
        self.sent: list[Sent] = []
        self.calls: list[Call] = []
        self.requests: list[list[str]] = []  # each accepted request's PhoneNumberSet
        self.max_param_len = 35
        self._script: deque[tuple[str | None, str]] = deque()
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = fake.handle(dict(self.headers.items()), body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "application/json" if status == 200 else "text/html"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- set-up -----------------------------------------------------------------------------

    def approve(self, template_id: str, text: str) -> None:
        """An approved template: ``text`` with Tencent's ``{1}``, ``{2}`` placeholders."""
        self.templates[template_id] = text

    def script(self, code: str, phone: str | None = None, times: int = 1) -> None:
        for _ in range(times):
            self._script.append((phone, code))

    def config(self, **extra: Any) -> dict[str, Any]:
        """The app settings that point gridapp at this fake."""
        return {
            "SMS_PROVIDER": "tencent", "SMS_SECRET_ID": self.secret_id,
            "SMS_SECRET_KEY": self.secret_key, "SMS_APP_ID": self.app_id,
            "SMS_SIGN_NAME": sorted(self.signs)[0], "SMS_ENDPOINT": self.endpoint,
            "SMS_PROTOCOL": "http", "SMS_TIMEOUT": 5, **extra,
        }  # fmt: skip

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the API -------------------------------------------------------------------------------

    def _error(self, code: str, message: str) -> tuple[int, dict]:
        with self._lock:
            self.calls.append(Call("SendSms", 200, code))
        return 200, {"Response": {"Error": {"Code": code, "Message": message},
                                  "RequestId": str(uuid.uuid4())}}  # fmt: skip

    def _scripted(self, phone: str) -> str | None:
        """The next scripted per-number code for ``phone``."""
        with self._lock:
            for i, (who, code) in enumerate(self._script):
                if (who is None or who == phone) and code.startswith(PER_NUMBER):
                    del self._script[i]
                    return code
        return None

    def _scripted_request(self, phones: list[str]) -> str | None:
        """The next scripted request-level error (or ``http500``) for a request to ``phones``."""
        with self._lock:
            for i, (who, code) in enumerate(self._script):
                if (who is None or who in phones) and not code.startswith(PER_NUMBER):
                    del self._script[i]
                    return code
        return None

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        m = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d\d-\d\d)/sms/tc3_request, "
            r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})",
            auth,
        )
        if not m:
            return self._error("AuthFailure.InvalidAuthorization", "malformed Authorization")
        if m.group(1) != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "unknown SecretId")
        try:
            ts = int(h.get("x-tc-timestamp", ""))
        except ValueError:
            return self._error("AuthFailure.InvalidAuthorization", "no timestamp")
        if abs(time.time() - ts) > 300:
            return self._error("AuthFailure.SignatureExpire", "timestamp too far off")
        if dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d") != m.group(2):
            return self._error("AuthFailure.SignatureFailure", "date does not match timestamp")
        want = tc3_signature(self.secret_key, "POST", h.get("host", ""),
                             h.get("content-type", ""), body, ts)  # fmt: skip
        if not hmac.compare_digest(want, m.group(3)):
            return self._error("AuthFailure.SignatureFailure", "signature mismatch")
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "unknown action or version")
        try:
            req = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "body is not JSON")
        if req.get("SmsSdkAppId") != self.app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId")
        if req.get("SignName") not in self.signs:
            return self._error("FailedOperation.SignatureIncorrectOrUnapproved", "sign")
        text = self.templates.get(str(req.get("TemplateId")))
        if text is None:
            return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "template")
        params = req.get("TemplateParamSet") or []
        wanted = len(set(re.findall(r"\{(\d+)\}", text)))
        if len(params) != wanted or not all(isinstance(p, str) for p in params):
            return self._error("InvalidParameterValue.TemplateParameterFormatError",
                               f"{len(params)} parameters for {wanted}")  # fmt: skip
        if any(len(p) > self.max_param_len for p in params):
            return self._error("InvalidParameterValue.TemplateParameterLengthLimit", "length")
        phones = req.get("PhoneNumberSet") or []
        if not phones:
            return self._error("MissingParameter", "PhoneNumberSet")
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            return self._error("InvalidParameter", "PhoneNumberSet")
        if len(phones) > 200:
            return self._error("LimitExceeded.PhoneNumberCountLimit", "more than 200 numbers")
        code = self._scripted_request(phones)
        if code == "http500":
            with self._lock:
                self.calls.append(Call("SendSms", 500, code))
            return 500, b"<html>502 Bad Gateway</html>"
        if code:
            return self._error(code, "scripted")
        with self._lock:
            self.requests.append(list(phones))
        filled = re.sub(r"\{(\d+)\}", lambda g: params[int(g.group(1)) - 1], text)
        full = f"【{req['SignName']}】{filled}"
        fee = 1 if len(full) <= 70 else math.ceil(len(full) / 67)
        out = []
        for phone in phones:
            one = self._scripted(phone) or ("Ok" if PHONE.match(phone) else
                                            "InvalidParameterValue.IncorrectPhoneNumber")  # fmt: skip
            serial = f"2433:{next(self._serials):010d}" if one == "Ok" else ""
            with self._lock:
                self.calls.append(Call("SendSms", 200, one))
                if one == "Ok":
                    self.sent.append(Sent(phone, str(req["TemplateId"]), params,
                                          req["SignName"], full, serial, fee))  # fmt: skip
            out.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": fee if serial else 0,
                        "SessionContext": "", "Code": one,
                        "Message": "send success" if one == "Ok" else "scripted",
                        "IsoCode": "CN"})  # fmt: skip
        return 200, {"Response": {"SendStatusSet": out, "RequestId": str(uuid.uuid4())}}

    # -- status reports ------------------------------------------------------------------------

    @staticmethod
    def report_body(sent: Sent, ok: bool = True, when: str = "2026-11-30 12:00:00") -> dict:
        """One report as Tencent posts it (``user_receive_time`` in Beijing time)."""
        return {
            "user_receive_time": when, "nationcode": "86", "mobile": sent.phone[3:],
            "report_status": "SUCCESS" if ok else "FAIL",
            "errmsg": "DELIVRD" if ok else "MK:0004",
            "description": "用户短信送达成功" if ok else "用户手机关机",
            "sid": sent.serial,
        }  # fmt: skip

    def report(self, url: str, reports: list[dict]) -> tuple[int, dict]:
        """POST status reports to the app's callback over real HTTP, as Tencent does."""
        req = urllib.request.Request(
            url, data=json.dumps(reports).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}

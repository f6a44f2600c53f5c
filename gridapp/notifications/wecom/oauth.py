"""WeCom OAuth (网页授权) pieces without Flask: the authorize URL and the ``state`` parameter.

``state`` may hold at most 128 bytes of ``[a-zA-Z0-9]`` (WeCom's rule), so it is not a
serialised blob but ``<issued hex><nonce hex><mac hex>``: the time it was issued, a random nonce
also kept in this browser's (signed) session, and an HMAC-SHA256 of both under the app's secret
key. The callback accepts it only when the MAC holds, it is younger than ``STATE_MAX_AGE``, and
its nonce is the one this browser's session was given (so another site cannot make a browser
complete someone else's sign-in: login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

STATE_MAX_AGE = 600  # seconds between leaving for WeCom and coming back


def _mac(secret: str, issued: str, nonce: str) -> str:
    key = hashlib.sha256(b"gridapp.wecom.oauth-state:" + secret.encode()).digest()
    return hmac.new(key, f"{issued}{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def make_state(secret: str, now: float | None = None) -> tuple[str, str]:
    """(state for the authorize URL, nonce to keep in the session)."""
    issued = f"{int(now if now is not None else time.time()):010x}"
    nonce = secrets.token_hex(12)
    return issued + nonce + _mac(secret, issued, nonce), nonce


def check_state(secret: str, state: str, nonce: str | None, now: float | None = None) -> bool:
    if not state or len(state) != 10 + 24 + 32 or not nonce:
        return False
    issued, got_nonce, mac = state[:10], state[10:34], state[34:]
    if not hmac.compare_digest(mac, _mac(secret, issued, got_nonce)):
        return False
    if not hmac.compare_digest(got_nonce, nonce):
        return False
    try:
        age = (now if now is not None else time.time()) - int(issued, 16)
    except ValueError:
        return False
    return 0 <= age <= STATE_MAX_AGE


def authorize_url(
    base: str, corp_id: str, agent_id: int | None, redirect_uri: str, state: str
) -> str:
    """The page WeCom's browser opens to hand back a code (silent: scope snsapi_base)."""
    query = {
        "appid": corp_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
    }
    if agent_id is not None:
        query["agentid"] = str(agent_id)
    return f"{base}?{urlencode(query)}#wechat_redirect"

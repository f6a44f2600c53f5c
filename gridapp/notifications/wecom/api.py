"""The WeCom server API through ``requests``: gettoken, message/send, auth/getuserinfo, and
what each errcode means for a delivery (``outcome``).

Every call carries the cached access token (``tokens.TokenManager``); when the API answers that
the token is invalid or expired (40014, 42001, 40001), the token is dropped and the call made
once more with a fresh one. The base URL is configuration (``WECOM_API_BASE``), so tests point
the client at a local fake server instead of patching it.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from gridapp.notifications.wecom import Settings
from gridapp.notifications.wecom.tokens import TokenCache, TokenManager

log = logging.getLogger("gridapp.notifications.wecom")

TOKEN_INVALID = frozenset({40001, 40014, 42001})
# 45009: API calls over the limit; 45033: too many concurrent calls; 45011: too frequent.
RATE_LIMITED = frozenset({45009, 45011, 45033})
BUSY = frozenset({-1, 6000})  # system busy; data version conflict ("retry later")
# The member is not (or no longer) in the corp or the app's visible range.
USER_GONE = frozenset({40003, 40031, 60111, 81013})
# The deployment's own setup is wrong: corp id, secret, agent id, IP allow-list, permissions.
CONFIG = frozenset(
    {40001, 40013, 40056, 41002, 41004, 48002, 60011, 60020, 301002, 301048, 50001, 50002}
)
RATE_RETRY_AFTER = "60"  # the per-member limit is per minute (30 a minute, 1,000 an hour)


class ApiError(Exception):
    """The API answered an errcode other than 0 (``status`` is the HTTP status otherwise)."""

    def __init__(self, errcode: int | None, errmsg: str = "", status: int | None = None) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}" if errcode is not None else errmsg)
        self.errcode, self.errmsg, self.status = errcode, errmsg, status


class TokenRefused(ApiError):
    """gettoken answered an errcode: a wrong secret or corp id, or an address not allowed."""


class WecomAPI:
    def __init__(self, settings: Settings, cache: TokenCache) -> None:
        self.settings = settings
        self.http = requests.Session()
        self.tokens = TokenManager(
            cache, f"{settings.corp_id}:{settings.agent_id}", self._gettoken, settings.token_margin
        )

    def url(self, path: str) -> str:
        return f"{self.settings.api_base}/cgi-bin/{path}"

    def close(self) -> None:
        self.http.close()

    # -- transport ---------------------------------------------------------------------------

    def _decode(self, resp: requests.Response) -> dict[str, Any]:
        if resp.status_code >= 300:
            raise ApiError(None, f"HTTP {resp.status_code}", status=resp.status_code)
        try:
            data = resp.json()
        except ValueError as exc:
            raise ApiError(None, "answer is not JSON", status=502) from exc
        if not isinstance(data, dict):
            raise ApiError(None, "answer is not a JSON object", status=502)
        data["errcode"] = int(data.get("errcode") or 0)
        return data

    def _gettoken(self) -> tuple[str, int]:
        s = self.settings
        log.info("wecom: fetching an access token for corp %s agent %s", s.corp_id, s.agent_id)
        resp = self.http.get(
            self.url("gettoken"),
            params={"corpid": s.corp_id, "corpsecret": s.secret},
            timeout=s.timeout,
        )
        data = self._decode(resp)
        if data["errcode"] != 0 or not data.get("access_token"):
            # 40001 here is a wrong secret, 40013 a wrong corp id, 60020 this server's address
            # missing from the app's IP allow-list: nothing a retry can fix.
            log.error(
                "wecom gettoken refused: errcode %s %s (check WECOM_CORP_ID / WECOM_SECRET "
                "and the app's trusted IPs)",
                data["errcode"],
                data.get("errmsg", ""),
            )
            raise TokenRefused(data["errcode"] or 40001, str(data.get("errmsg", "")))
        return str(data["access_token"]), int(data.get("expires_in") or 7200)

    def call(
        self, method: str, path: str, *, params: dict | None = None, json: dict | None = None
    ) -> dict[str, Any]:
        """One API call with the shared token; token-invalid errcodes refresh it and retry once.
        Returns the decoded answer whatever its errcode; raises ``ApiError`` for HTTP errors
        and a refused gettoken, ``requests.RequestException`` for the network."""
        for attempt in (1, 2):
            token = self.tokens.token()
            resp = self.http.request(
                method,
                self.url(path),
                params={**(params or {}), "access_token": token},
                json=json,
                timeout=self.settings.timeout,
            )
            data = self._decode(resp)
            if data["errcode"] in TOKEN_INVALID and attempt == 1:
                log.info("wecom: token refused (%s); fetching a fresh one", data["errcode"])
                self.tokens.invalidate(token)
                continue
            return data
        return data  # pragma: no cover

    # -- operations --------------------------------------------------------------------------

    def send_textcard(
        self, userids: list[str], title: str, description: str, url: str, btntxt: str
    ) -> dict[str, Any]:
        """message/send of one text card to up to 1,000 members. Duplicate check on: a retry
        after a timeout whose message did go out is dropped by WeCom instead of ringing twice."""
        return self.call(
            "POST",
            "message/send",
            json={
                "touser": "|".join(userids),
                "msgtype": "textcard",
                "agentid": self.settings.agent_id,
                "textcard": {
                    "title": title,
                    "description": description,
                    "url": url,
                    "btntxt": btntxt,
                },
                "enable_duplicate_check": 1,
                "duplicate_check_interval": 600,
            },
        )

    def userid_for_code(self, code: str) -> str | None:
        """auth/getuserinfo: the member's userid for an OAuth code, None for a non-member (the
        answer then has only an openid). Raises ``ApiError`` for a bad or used code (40029)."""
        data = self.call("GET", "auth/getuserinfo", params={"code": code})
        if data["errcode"] != 0:
            raise ApiError(data["errcode"], str(data.get("errmsg", "")))
        userid = data.get("userid") or data.get("UserId")
        return str(userid) if userid else None


def errcode_outcome(errcode: int, errmsg: str = "") -> tuple[int, str, str | None]:
    """(HTTP-like status, error text, retry_after) for a non-zero errcode, as ``rules.judge``
    reads it: 429 and 503 retry, 410 gone (the binding is disabled), 403/400 failed."""
    text = f"wecom errcode {errcode}: {errmsg}"[:500]
    if errcode in RATE_LIMITED:
        return 429, text, RATE_RETRY_AFTER
    if errcode in BUSY or errcode in TOKEN_INVALID:
        # A token refused twice in a row: WeCom's side is unsettled; try again later.
        return 503, text, None
    if errcode in USER_GONE:
        return 410, text, None
    if errcode in CONFIG:
        log.error("wecom: the deployment's configuration is refused: %s", text)
        return 403, text, None
    log.warning("wecom: message refused: %s", text)
    return 400, text, None

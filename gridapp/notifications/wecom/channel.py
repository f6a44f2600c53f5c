"""The ``wecom`` delivery channel: a text card per notification, to the recipient's bound
WeCom member, with a link into the app (through WeCom sign-in when OAuth is enabled).

Messages with the same card (an announcement's fan-out) go out as one message/send call per
1,000 members. What the API answers becomes an HTTP-like ``Outcome`` (CHANNELS.md):
200 sent; 429/503/None retry; 410 gone — the binding is disabled here, with the reason; 404
no binding at all; 403/400 failed (a configuration error is also logged loudly).
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import quote

import requests

from gridapp.notifications.channels import Message, Outcome
from gridapp.notifications.wecom import binding
from gridapp.notifications.wecom.api import (
    BUSY,
    RATE_LIMITED,
    RATE_RETRY_AFTER,
    ApiError,
    TokenRefused,
    WecomAPI,
    errcode_outcome,
)
from gridapp.notifications.wecom.tokens import TokenUnavailable

log = logging.getLogger("gridapp.notifications.wecom")

TITLE_BYTES = 128  # textcard limits (message/send): title 128 bytes, description 512,
DESCRIPTION_BYTES = 512  # url 2048; btntxt 4 characters
URL_BYTES = 2048
BATCH = 1000  # touser takes up to 1,000 members


def fit_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary, with '…'."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    cut = raw[: limit - len("…".encode())].decode("utf-8", "ignore")
    return cut.rstrip() + "…"


class WecomChannel:
    name = "wecom"

    def __init__(self, api: WecomAPI) -> None:
        self.api = api
        self.settings = api.settings

    def reachable(self, user_ids: Iterable[int]) -> set[int]:
        """Users with a working binding in this corp."""
        return binding.reachable(self.settings.corp_id, user_ids)

    def card_url(self, link: str) -> str:
        base = self.settings.public_url
        link = link or "/app"
        if link.startswith(("http://", "https://")):
            return link
        if not link.startswith("/"):
            link = "/" + link
        if self.settings.oauth_enabled:
            # Opened inside WeCom's browser: sign in as the bound member on the way.
            return f"{base}/auth/wecom?next={quote(link, safe='')}"
        return base + link

    def card(self, m: Message) -> tuple[str, str, str]:
        title = fit_bytes(m.title or "gridapp", TITLE_BYTES)
        # The description takes a few HTML-like tags (div class="gray"): escape the user's text.
        text = html.escape(m.body or m.title or "", quote=False)
        description = fit_bytes(text, DESCRIPTION_BYTES) or title
        return title, description, self.card_url(m.link)[:URL_BYTES]

    def send(self, message: Message) -> Outcome:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(messages)
        if not self.settings.public_url:
            log.error("wecom: WECOM_PUBLIC_URL (or ECHOWALL_PUBLIC_URL) is not set: no card link")
            return [Outcome(403, error="WECOM_PUBLIC_URL not set")] * len(messages)
        bound = binding.lookup(self.settings.corp_id, {m.recipient_id for m in messages})
        groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for i, m in enumerate(messages):
            b = bound.get(m.recipient_id)
            if b is None:
                outcomes[i] = Outcome(404, error="no 企业微信 binding")
            elif b.disabled_at is not None:
                outcomes[i] = Outcome(410, error=f"binding disabled: {b.disabled_reason}"[:500])
            else:
                groups[self.card(m)].append(i)
        for card, indexes in groups.items():
            for start in range(0, len(indexes), BATCH):
                chunk = indexes[start : start + BATCH]
                userids = [bound[messages[i].recipient_id].userid for i in chunk]
                answers = self._send_card(card, list(dict.fromkeys(userids)))
                for i, userid in zip(chunk, userids, strict=True):
                    outcomes[i] = answers[userid]
        return outcomes  # type: ignore[return-value]

    def _send_card(self, card: tuple[str, str, str], userids: list[str]) -> dict[str, Outcome]:
        """One message/send for these members; the outcome per member."""
        return dict(zip(userids, self._answers(card, userids), strict=True))

    def _answers(self, card: tuple[str, str, str], userids: list[str]) -> list[Outcome]:
        title, description, url = card
        try:
            data = self.api.send_textcard(userids, title, description, url, self.settings.btntxt)
        except TokenRefused as exc:
            if exc.errcode in BUSY:
                return [Outcome(503, error=str(exc))] * len(userids)
            if exc.errcode in RATE_LIMITED:
                return [Outcome(429, str(exc), RATE_RETRY_AFTER)] * len(userids)
            log.error("wecom: no access token: %s (check the corp id, secret, trusted IPs)", exc)
            return [Outcome(403, error=f"gettoken refused: {exc}"[:500])] * len(userids)
        except ApiError as exc:  # HTTP status other than 2xx, or not JSON
            return [Outcome(exc.status, error=str(exc)[:500])] * len(userids)
        except (requests.RequestException, TokenUnavailable) as exc:
            return [Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])] * len(userids)
        code = data["errcode"]
        if code != 0:
            status, error, retry_after = errcode_outcome(code, str(data.get("errmsg", "")))
            if status == 410:
                binding.disable_gone(self.settings.corp_id, userids, error)
            return [Outcome(status, error, retry_after)] * len(userids)
        invalid = {u for u in str(data.get("invaliduser") or "").split("|") if u}
        if invalid:
            binding.disable_gone(
                self.settings.corp_id, sorted(invalid), "invaliduser: not a member of the app"
            )
        return [
            Outcome(410, error="invaliduser: not a member of the app")
            if u in invalid
            else Outcome(200)
            for u in userids
        ]

"""企业微信 (WeCom) channel: application messages (text cards linking into the app) to users
bound to their WeCom ``userid``, and sign-in through WeCom OAuth (网页授权).

The official API is called through ``requests`` (``api.py``), not ``wechatpy``: wechatpy
1.8.18's work client hard-codes the gettoken URL (so it cannot be pointed at a test server by
configuration), keeps the token's expiry in process memory, has no fetch lock and no timeout on
gettoken, and retries token errors without bound (docs/notifications.md has the whole
comparison).

``configured(app)`` / ``build(app)`` are the plug-in hooks ``channels.channels`` calls.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from flask import Flask

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"


@dataclass(frozen=True)
class Settings:
    corp_id: str
    agent_id: int | None
    secret: str
    api_base: str
    authorize_url: str
    oauth_enabled: bool
    public_url: str
    timeout: float
    token_margin: int
    redis_url: str | None
    btntxt: str


def _get(app: Flask, name: str, default: Any = None) -> Any:
    """``WECOM_<NAME>`` from the app config, else ``GRIDAPP_WECOM_<NAME>`` from the environment."""
    value = app.config.get(f"WECOM_{name}")
    if value is None or value == "":
        value = os.environ.get(f"GRIDAPP_WECOM_{name}", default)
    return default if value is None else value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def settings(app: Flask) -> Settings:
    agent = str(_get(app, "AGENT_ID", "") or "").strip()
    public = _get(app, "PUBLIC_URL", "") or app.config.get("ECHOWALL_PUBLIC_URL") or ""
    return Settings(
        corp_id=str(_get(app, "CORP_ID", "")).strip(),
        agent_id=int(agent) if agent.isdigit() else None,
        secret=str(_get(app, "SECRET", "")).strip(),
        api_base=str(_get(app, "API_BASE", DEFAULT_API_BASE)).rstrip("/"),
        authorize_url=str(_get(app, "AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL)),
        oauth_enabled=_flag(_get(app, "OAUTH_ENABLED", False)),
        public_url=str(public).rstrip("/"),
        timeout=float(_get(app, "TIMEOUT", 10.0)),
        # Refresh this many seconds before the token's own expiry (clocks, in-flight calls).
        token_margin=int(_get(app, "TOKEN_MARGIN", 300)),
        redis_url=app.config.get("WECOM_REDIS_URL") or app.config.get("REDIS_URL"),
        btntxt=str(_get(app, "BTNTXT", "详情"))[:4],
    )


def configured(app: Flask) -> bool:
    """The channel exists when corp id, agent id and the agent's secret are all set; a
    half-done configuration is logged (once per app) instead of silently meaning "off"."""
    s = settings(app)
    parts = {"WECOM_CORP_ID": s.corp_id, "WECOM_AGENT_ID": s.agent_id is not None,
             "WECOM_SECRET": s.secret}  # fmt: skip
    if any(parts.values()) and not all(parts.values()):
        if not app.extensions.get("gridapp.wecom_warned"):
            app.extensions["gridapp.wecom_warned"] = True
            missing = ", ".join(k for k, v in parts.items() if not v)
            logging.getLogger("gridapp.notifications.wecom").error(
                "企业微信 is half configured: %s missing or invalid (AgentId is a number); "
                "the channel stays off",
                missing,
            )
        return False
    return all(parts.values())


def build(app: Flask):
    """The ``wecom`` channel (one API client and token cache per app)."""
    from gridapp.notifications.wecom.channel import WecomChannel

    return WecomChannel(client(app))


def client(app: Flask):
    """The app's one API client (shared by the channel and the OAuth views)."""
    from gridapp.notifications.wecom.api import WecomAPI
    from gridapp.notifications.wecom.tokens import token_cache

    found = app.extensions.get("gridapp.wecom")
    if found is None:
        s = settings(app)
        found = app.extensions["gridapp.wecom"] = WecomAPI(s, token_cache(s.redis_url))
    return found

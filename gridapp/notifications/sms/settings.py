"""SMS settings: ``SMS_*`` in the app config, else ``GRIDAPP_SMS_*`` in the environment, with
defaults. Read at each use (tests and the admin change them on a running app)."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, current_app

DEFAULTS: dict[str, Any] = {
    "PROVIDER": "",  # "tencent" turns SMS on (with the credentials below)
    "SECRET_ID": "",
    "SECRET_KEY": "",
    "APP_ID": "",  # Tencent's SmsSdkAppId
    "SIGN_NAME": "",  # the approved signature (签名), shown as 【…】
    "REGION": "ap-guangzhou",
    "ENDPOINT": "sms.tencentcloudapi.com",
    "PROTOCOL": "https",
    "TIMEOUT": 10.0,
    "TEMPLATES": {},  # template key → the provider's template id
    "USER_DAILY_CAP": 5,  # per staff member per local day
    "PHONE_DAILY_CAP": 5,  # per number per local day (residents have no account)
    "DAILY_CAP": 2000,  # per deployment per local day
    "PRICE_PER_SEGMENT": 45,  # 厘 (0.001 CNY) per billed segment
    "QUIET_HOURS": "22:00-08:00",  # Asia/Shanghai; "" sends at night too
    "MAX_ATTEMPTS": 4,
    "BACKOFF_BASE": 60.0,
    "CALLBACK_TOKEN": "",  # the secret in the status-report URL; "" turns the callback off
    "CALLBACK_ALLOW": [],  # addresses/networks the provider reports from ([] = any)
    "LINK_BASE": "",  # where links in messages point (else ECHOWALL_PUBLIC_URL)
}

_INTS = {"USER_DAILY_CAP", "PHONE_DAILY_CAP", "DAILY_CAP", "PRICE_PER_SEGMENT", "MAX_ATTEMPTS"}
_FLOATS = {"TIMEOUT", "BACKOFF_BASE"}


def sms_settings(app: Flask | None = None) -> dict[str, Any]:
    cfg = (app or current_app).config
    out: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        value = cfg.get(f"SMS_{name}")
        if value is None:
            value = os.environ.get(f"GRIDAPP_SMS_{name}")
        if value is None:
            value = default
        if name in _INTS:
            value = int(value)
        elif name in _FLOATS:
            value = float(value)
        elif name == "TEMPLATES":
            value = _templates(value)
        elif name == "CALLBACK_ALLOW" and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        out[name.lower()] = value
    return out


def _templates(value: Any) -> dict[str, str]:
    """A dict, JSON (``{"notify.generic": "1234567"}``) or ``key=id,key=id``."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value or "").strip()
    if text.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    pairs = (p.split("=", 1) for p in text.split(",") if "=" in p)
    return {k.strip(): v.strip() for k, v in pairs}


def configured(app: Flask | None = None) -> bool:
    """Whether SMS can be sent: a provider with its credentials, app id and signature."""
    s = sms_settings(app)
    return s["provider"] == "tencent" and all(
        s[k] for k in ("secret_id", "secret_key", "app_id", "sign_name")
    )

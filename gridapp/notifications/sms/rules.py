"""Pure SMS rules: approved templates and their parameters, phone numbers, message segments and
cost, the provider's error codes. Standard library only, tested without an app.

SMS in mainland China may only carry text from templates the provider approved beforehand
(with a signature, 签名, also approved). So the app never sends free text: a feature registers a
template by key with its parameter names and the Chinese text it was approved with, the
provider's template id comes from configuration, and each parameter is checked here the way the
provider checks it (length, no links unless the template's variable was approved as one, no
brackets that would fake a signature) so a bad value fails in our code, not at the provider.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from string import Formatter

# Tencent Cloud SMS: a variable of the "other" kind (names, titles, codes) may hold at most 35
# characters (verification codes 6, numbers 32); a link variable must be approved as such.
DEFAULT_MAX_LEN = 35
SEGMENT_SINGLE = 70  # one segment holds 70 characters (Chinese or not, signature included)
SEGMENT_PART = 67  # a long message is sent in parts of 67 characters each

_URL_RE = re.compile(
    r"(https?://|www\.|[a-z0-9-]+\.(com|cn|net|org|gov|io|top|xyz|cc|me|info)\b)", re.IGNORECASE
)
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f【】\[\]]")


class ParamError(ValueError):
    """A template parameter the provider would refuse: ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Template:
    key: str
    params: tuple[str, ...]
    text_zh: str
    max_len: dict[str, int] = field(default_factory=dict)
    urls: frozenset[str] = frozenset()

    def limit(self, name: str) -> int:
        return self.max_len.get(name, DEFAULT_MAX_LEN)

    def values(self, params: dict[str, str]) -> list[str]:
        """The parameters in the template's order, checked; raises ParamError."""
        missing = [p for p in self.params if p not in params]
        if missing:
            raise ParamError(missing[0], "missing")
        extra = sorted(set(params) - set(self.params))
        if extra:
            raise ParamError(extra[0], "not a parameter of this template")
        out = []
        for name in self.params:
            value = params[name]
            if not isinstance(value, str):
                raise ParamError(name, "must be text")
            value = value.strip()
            if not value:
                raise ParamError(name, "empty")
            if len(value) > self.limit(name):
                raise ParamError(name, f"longer than {self.limit(name)} characters")
            if _BAD_CHARS.search(value):
                raise ParamError(name, "control characters or brackets")
            if name not in self.urls and _URL_RE.search(value):
                raise ParamError(name, "links are not allowed in this parameter")
            out.append(value)
        return out

    def render(self, params: dict[str, str], sign: str) -> str:
        """The text the phone shows: 【签名】 and the approved text with the values filled in."""
        values = dict(zip(self.params, self.values(params), strict=True))
        return f"【{sign}】" + self.text_zh.format(**values)


_REGISTRY: dict[str, Template] = {}


def register_template(
    key: str,
    params: list[str] | tuple[str, ...],
    text_zh: str,
    *,
    max_len: dict[str, int] | None = None,
    urls: tuple[str, ...] | list[str] = (),
) -> Template:
    """Register an approved template (once per key; registering the same again is harmless).
    ``text_zh`` uses ``{name}`` for each parameter, exactly the ones listed; ``urls`` names the
    parameters approved as links."""
    names = tuple(params)
    used = {f for _t, f, _s, _c in Formatter().parse(text_zh) if f}
    if used != set(names) or len(set(names)) != len(names):
        raise ValueError(f"template {key}: placeholders {sorted(used)} != params {list(names)}")
    if not set(urls) <= set(names):
        raise ValueError(f"template {key}: url params must be params")
    tpl = Template(key, names, text_zh, dict(max_len or {}), frozenset(urls))
    old = _REGISTRY.get(key)
    if old is not None and old != tpl:
        raise ValueError(f"template {key} registered twice with different definitions")
    _REGISTRY[key] = tpl
    return tpl


def get_template(key: str) -> Template:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ParamError("template", f"unknown template {key!r}") from None


def templates() -> dict[str, Template]:
    return dict(_REGISTRY)


def fit(value: str, limit: int) -> str:
    """Shorten free text (a notification title) to a parameter's limit, with an ellipsis, and
    drop what the provider refuses in a variable (brackets, control characters, links)."""
    value = _BAD_CHARS.sub(" ", value or "").strip()
    value = _URL_RE.sub("", value).strip() or "-"
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ---- phones -----------------------------------------------------------------------------------


def e164(phone: str | None) -> str | None:
    """A mainland mobile as the provider takes it (``+8613812345678``), or None (landlines and
    anything else cannot receive SMS). Spaces, dashes and a +86/0086/86 prefix are accepted."""
    raw = re.sub(r"[\s\-()（）]", "", phone or "")
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    if len(raw) == 13 and raw.startswith("86"):
        raw = raw[2:]
    return "+86" + raw if _MOBILE_RE.match(raw) else None


def national(phone: str) -> str:
    """``+8613812345678`` → ``13812345678`` (for masking and display)."""
    return phone[3:] if phone.startswith("+86") else phone


# ---- segments and cost ------------------------------------------------------------------------


def segments(text: str) -> int:
    """How many billed segments the provider splits ``text`` into (signature included): 70
    characters fit in one; a longer message goes in parts of 67."""
    n = len(text)
    if n <= SEGMENT_SINGLE:
        return 1
    return math.ceil(n / SEGMENT_PART)


def cost(segment_count: int, price_per_segment: int) -> int:
    """Cost in 厘 (0.001 CNY), integers only so monthly sums never drift."""
    return max(0, segment_count) * max(0, price_per_segment)


# ---- provider outcomes ------------------------------------------------------------------------

# Tencent Cloud SMS error codes (per number in SendStatusSet, or for the whole request) mapped
# to the HTTP-like status the delivery rules judge: 429 / 5xx retry, 410 gone (the number is
# disabled), other 4xx failed for good.
_RATE = ("LimitExceeded.", "RequestLimitExceeded")
_GONE = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.PhoneNumberParseFail",
    "UnsupportedOperation.UnsupportedRegion",
    "FailedOperation.PhoneNumberOnBlacklist",
)
_RETRY = ("InternalError", "ServerNetworkError", "FailedOperation.FailResolvePacket")
_RETRY_AFTER = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": "30",
    "LimitExceeded.PhoneNumberOneHourLimit": "3600",
    "RequestLimitExceeded": "1",
}
# A misconfiguration every message will hit: logged as an error, not a warning.
LOUD = (
    "AuthFailure",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "InvalidParameterValue.TemplateParameterFormatError",
    "InvalidParameterValue.TemplateParameterLengthLimit",
    "InvalidParameterValue.SdkAppIdNotExist",
    "FailedOperation.InsufficientBalanceInSmsPackage",
    "UnauthorizedOperation",
    "MissingParameter",
)


def status_for(code: str) -> tuple[int | None, str | None]:
    """A provider code → (HTTP-like status, Retry-After seconds or None). ``Ok`` → 200,
    ``ClientNetworkError`` (no answer) → None."""
    if code in ("Ok", "OK", "ok"):
        return 200, None
    if code == "ClientNetworkError":
        return None, None
    if code.startswith(_RATE):
        return 429, _RETRY_AFTER.get(code)
    if code in _GONE:
        return 410, None
    if code.startswith(_RETRY):
        return 503, None
    if code.startswith("AuthFailure"):
        return 401, None
    if code == "FailedOperation.InsufficientBalanceInSmsPackage":
        return 402, None
    return 400, None


def is_loud(code: str) -> bool:
    return code.startswith(LOUD)

"""Pure rules of the Open311 GeoReport v2 endpoint (standard library only): the service
catalogue, the spec's formats (XML element names and the JSON "Spark" mapping of the same
tree), w3c datetimes, status mapping, distances and the coarsening of public coordinates.

Spec: http://wiki.open311.org/GeoReport_v2 (frozen). XML is required, JSON optional; we serve
both. Field names are the spec's English; values (service names, notes) are the community's.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DISCOVERY_FORMATS = ["text/xml", "application/json"]

DESCRIPTION_MAX = 4000  # the spec's limit for description
DESCRIPTION_MIN = 5  # as the echo wall's form
ADDRESS_MAX = 200
MEDIA_URL_MAX = 500
NAME_MAX = 50
EMAIL_MAX = 200
ATTRIBUTES_MAX = 20
ATTRIBUTE_VALUE_MAX = 200
IDS_MAX = 50  # service_request_id=a,b,c … at most
LIST_MAX = 1000  # "first 1000 requests returned"
RANGE_DAYS = 90  # "may not span more than 90 days"
COARSE_DECIMALS = 3  # ~100 m: a building's block, never a door


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    keywords: str
    group: str
    category: str | None  # the reporter's suggestion for triage (四事分办); a person decides


# What the echo wall offers a resident is one thing: "tell us your need", and triage puts it in
# one of the four categories. An integrator often knows more, so the four categories are
# offered too, as the reporter's *suggested* category (the worker's guess works the same way).
SERVICES: tuple[Service, ...] = (
    Service(
        "need",
        "反映诉求",
        "居民的需求或问题，由社区分类办理（四事分办）。",
        "回音壁, 诉求, 求助, 12345",
        "回音壁",
        None,
    ),
    Service(
        "individual",
        "个事",
        "居民个人事务：开具证明、办理补贴、家庭纠纷等，网格员帮办代办。",
        "证明, 补贴, 代办, 家庭",
        "四事分办",
        "个事",
    ),
    Service(
        "community",
        "社事",
        "社区公共事务：乱扔垃圾、宠物、停车、楼道照明等，社区办理。",
        "垃圾, 宠物, 停车, 路灯, 物业",
        "四事分办",
        "社事",
    ),
    Service(
        "specialised",
        "专事",
        "需职能部门办理：水、电、燃气、城管、市场监管等。",
        "供水, 供电, 燃气, 城管, 市场监管",
        "四事分办",
        "专事",
    ),
    Service(
        "difficult",
        "难事",
        "跨部门或长期未解决的难题，由街道牵头联合办理。",
        "跨部门, 疑难, 督办",
        "四事分办",
        "难事",
    ),
)
SERVICE_BY_CODE = {s.code: s for s in SERVICES}
CODE_BY_CATEGORY = {s.category: s.code for s in SERVICES if s.category}

CLOSED_STATES = frozenset({"resolved", "verified", "closed"})


def status_of(state: str) -> str:
    """The spec has two statuses: ``closed`` once handled (resolved, verified, closed; a
    reopened matter is open again), ``open`` before."""
    return "closed" if state in CLOSED_STATES else "open"


def service_of(service_code: str | None, category: str | None) -> Service:
    """The service a matter is shown under: the code it was filed with, else its category."""
    if service_code in SERVICE_BY_CODE:
        return SERVICE_BY_CODE[service_code]
    return SERVICE_BY_CODE[CODE_BY_CATEGORY.get(category or "", "need")]


# ---- inputs -------------------------------------------------------------------------------------


class BadInput(ValueError):
    """One field's input is wrong; ``str(exc)`` says why in the spec's English."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_w3c(value: str, field: str) -> dt.datetime:
    """A w3c datetime with its offset (``2010-01-01T00:00:00Z``, ``…+08:00``) → naive UTC.
    The spec requires the offset: one left out is refused rather than guessed."""
    raw = (value or "").strip()
    if len(raw) > 40 or not re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)", raw):
        raise BadInput(field, f"{field} must be a w3c datetime with a timezone, e.g. "
                       "2010-01-01T00:00:00Z")  # fmt: skip
    try:
        value_dt = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value_dt.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadInput(field, f"{field} is not a valid date and time") from None


def parse_float(value: str, field: str, low: float, high: float) -> float:
    try:
        number = float((value or "").strip())
    except ValueError:
        raise BadInput(field, f"{field} must be a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise BadInput(field, f"{field} must be between {low:g} and {high:g}")
    return number


def split_list(value: str | None, limit: int = IDS_MAX) -> list[str]:
    """``a,b, c`` → ``["a", "b", "c"]`` (comma-delimited arguments), at most ``limit``."""
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return list(dict.fromkeys(items))[:limit]


def normalise_phone(raw: str | None) -> str:
    """An integrator's phone as we store it: spaces and dashes between digit groups dropped,
    a +86/0086 country prefix removed (``+86 138-1234-5678`` → ``13812345678``)."""
    value = re.sub(r"[\s\u3000()]", "", raw or "")
    value = re.sub(r"^(\+|00)86-?", "", value)
    if re.fullmatch(r"1[3-9]\d-?\d{4}-?\d{4}", value):
        value = value.replace("-", "")
    return value


EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}")


def parse_attributes(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v`` pairs → ``{code: [v, ...]}``."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        m = re.fullmatch(r"attribute\[([A-Za-z0-9_.\-]{1,40})\](\[\])?", key)
        if not m:
            if key.startswith("attribute"):
                raise BadInput("attribute", "attribute keys take the form attribute[code]")
            continue
        if len(value) > ATTRIBUTE_VALUE_MAX:
            raise BadInput("attribute", f"attribute[{m.group(1)}] is too long")
        out.setdefault(m.group(1), []).append(value)
        if len(out) > ATTRIBUTES_MAX:
            raise BadInput("attribute", "too many attributes")
    return out


# ---- geography ----------------------------------------------------------------------------------

EARTH_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a few hundred metres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """A lat/lon box holding every point within ``metres`` (for an index range scan)."""
    dlat = math.degrees(metres / EARTH_M)
    dlon = math.degrees(metres / (EARTH_M * max(0.01, math.cos(math.radians(lat)))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def coarse(value: float | None) -> float | None:
    """A public coordinate: rounded to about 100 m (a block, never a door)."""
    return None if value is None else round(value, COARSE_DECIMALS)


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# ---- output -------------------------------------------------------------------------------------

# Container element → the element name of each item (the spec's XML; JSON drops containers).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_BAD.sub("", str(value))


def _fill(elem: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(elem, key), key, child)
    elif isinstance(value, list | tuple):
        item = ITEM_NAMES.get(name, "item")
        for child in value:
            _fill(ET.SubElement(elem, item), item, child)
    else:
        elem.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """The spec's XML: ``<root>`` holding ``value`` (a list becomes repeated item elements, a
    mapping child elements, None an empty element), UTF-8 with the declaration."""
    elem = ET.Element(root)
    _fill(elem, root, value)
    body = ET.tostring(elem, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def error_items(errors: Sequence[tuple[int | str, str]]) -> list[dict[str, Any]]:
    """The spec's error list: ``[{"code": 403, "description": "..."}]``."""
    return [{"code": code, "description": text} for code, text in errors]

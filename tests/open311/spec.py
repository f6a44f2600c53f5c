"""Reading Open311 answers as a client would: JSON as is, XML parsed with defusedxml and turned
into the same lists of dicts (the spec's JSON is the "Spark" mapping of its XML)."""

from __future__ import annotations

from typing import Any

from defusedxml import ElementTree as DET

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
]  # fmt: skip


def _value(elem) -> Any:
    children = list(elem)
    if not children:
        return elem.text
    if len({c.tag for c in children}) == 1 and len(children) > 1 or elem.tag in (
        "endpoints", "formats", "attributes", "values", "services", "service_requests", "errors",
    ):  # fmt: skip
        return [_value(c) for c in children]
    return {c.tag: _value(c) for c in children}


def parse(resp, fmt: str, root: str) -> Any:
    """The answer's body; for XML also checks the declaration and the root element's name."""
    assert resp.headers["Content-Type"] == CONTENT_TYPES[fmt], resp.headers["Content-Type"]
    if fmt == "json":
        return resp.get_json()
    text = resp.data.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>'), text[:60]
    elem = DET.fromstring(resp.data)
    assert elem.tag == root, (elem.tag, root)
    return _value(elem)


def check_error(resp, fmt: str, status: int, words: str = "") -> str:
    """A spec error: HTTP ``status``, ``errors`` holding ``error``s with code + description."""
    assert resp.status_code == status, (resp.status_code, resp.data[:300])
    items = parse(resp, fmt, "errors")
    assert isinstance(items, list) and items, items
    for item in items:
        assert set(item) == {"code", "description"}, item
        assert str(item["code"]) == str(status)
        assert item["description"]
    text = items[0]["description"]
    assert words.lower() in text.lower(), (words, text)
    return text

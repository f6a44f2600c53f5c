"""Every JSON answer under ``/api/v1`` that any test provokes is checked against the OpenAPI
document the app serves: its status code must be documented for the operation, its content type
declared, and its body valid against the declared schema, ``format: date-time`` included (an
offset is required: a naive datetime is read as the phone's local time, 8 hours off).

Installed on the test apps as an ``after_request`` hook (``install``), so every existing and
future test contributes, through the test client and through a live server alike. Violations
are collected, not raised (a hook must not turn the answer into a 500 the test then misreads),
and the ``_api_conformance`` fixture in ``tests/conftest.py`` fails the test that produced them.
Validators are compiled once per (operation, status) for the whole run.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from typing import Any

from flask import Flask, Response, request
from jsonschema import Draft202012Validator, FormatChecker

from gridapp.api import API_PREFIX, _openapi_path

# RFC 3339 §5.6 date-time: the offset is not optional.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
JSON_TYPES = ("application/json", "application/problem+json")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    import datetime as dt

    if not DATE_TIME.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


@FORMATS.checks("date")
def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    import datetime as dt

    if not DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


class Conformance:
    """The document, its operations by (method, path template) and compiled validators."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.components = doc.get("components", {})
        self.validators: dict[tuple[str, str, str, str], Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        return self.doc["paths"].get(path, {}).get(method.lower())

    def validator(self, key: tuple[str, str, str, str], schema: dict) -> Draft202012Validator:
        found = self.validators.get(key)
        if found is None:
            root = {**schema, "components": self.components}
            found = self.validators[key] = Draft202012Validator(root, format_checker=FORMATS)
        return found

    def check(
        self, method: str, path: str, status: int, mimetype: str, body: bytes | None
    ) -> list[str]:
        op = self.operation(method, path)
        where = f"{method} {path} → {status}"
        if op is None:
            return [f"{where}: the operation is not in the OpenAPI document"]
        responses = op.get("responses", {})
        documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if documented is None:
            return [f"{where}: status {status} is not documented (has {sorted(responses)})"]
        content = documented.get("content") or {}
        if body is None or mimetype not in JSON_TYPES:
            # A streamed file (``body`` None) or another media type: its type must be declared.
            if content and mimetype not in content and "*/*" not in content:
                return [f"{where}: {mimetype} is not among {sorted(content)}"]
            return []
        media = content.get(mimetype)
        if media is None:
            return [f"{where}: a {mimetype} body, but the document declares {sorted(content)}"]
        schema = media.get("schema")
        if not schema:
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        errors = sorted(
            self.validator((method, path, str(status), mimetype), schema).iter_errors(data),
            key=lambda e: list(e.absolute_path),
        )
        return [
            f"{where}: at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
            for e in errors[:5]
        ]


_lock = threading.Lock()
_conformance: Conformance | None = None
# What the hook found since the current test began (the fixture empties and reads it).
VIOLATIONS: list[str] = []


def conformance() -> Conformance:
    """Built from the first app's document: every test app registers the same routes."""
    global _conformance
    with _lock:
        if _conformance is None:
            from gridapp.api import openapi_document

            _conformance = Conformance(openapi_document())
        return _conformance


def _body(resp: Response) -> bytes | None:
    if resp.is_streamed or resp.direct_passthrough:
        return None
    data = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data or None


def install(app: Flask) -> None:
    @app.after_request
    def _check_against_openapi(resp: Response) -> Response:
        rule = request.url_rule
        if rule is None or not rule.rule.startswith(API_PREFIX + "/"):
            return resp
        if rule.rule.endswith("/openapi.json") or request.method in ("HEAD", "OPTIONS"):
            return resp
        if resp.status_code == 405:  # a method the route does not take: no operation
            return resp
        path, _ = _openapi_path(rule.rule)
        found = conformance().check(
            request.method, path, resp.status_code, resp.mimetype or "", _body(resp)
        )
        if found:
            with _lock:
                VIOLATIONS.extend(found)
        return resp

"""Errors as RFC 9457 ``application/problem+json`` for API clients and pages for browsers.

Services raise ``Problem`` subclasses (``ValidationFailed(field, message)``, ``Conflict(current=…)``,
``Forbidden``, ``NotFound``); the web layer turns them into responses. Nothing here touches the
database, so a failed request leaves no half-written row behind (services write in one
transaction and raise before or roll back).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"


class Problem(Exception):
    status = 400
    title = _l("Bad request")

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
        title: str | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or "")
        self.detail = detail
        self.field = field
        self.errors = errors
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.code = code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": str(self.title),
            "status": self.status,
        }
        if self.detail:
            body["detail"] = str(self.detail)
        if self.code:
            body["code"] = self.code
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(Problem):
    """422: a field's value is wrong. ``field`` is a dotted path such as ``residents.0.phone``."""

    status = 422
    title = _l("Validation failed")

    def __init__(self, field: str, message: str, **kw: Any) -> None:
        super().__init__(
            message, field=field, errors=[{"field": field, "message": str(message)}], **kw
        )


class Unauthorized(Problem):
    status = 401
    title = _l("Login required")


class Forbidden(Problem):
    status = 403
    title = _l("Forbidden")


class NotFound(Problem):
    status = 404
    title = _l("Not found")


class Conflict(Problem):
    """409: a stale version or an illegal state transition; ``current`` carries the server's row."""

    status = 409
    title = _l("Conflict")


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_MIME])
    return best in {"application/json", PROBLEM_MIME}


def problem_response(problem: Problem) -> Response:
    return Response(
        json.dumps(problem.to_dict(), ensure_ascii=False),
        status=problem.status,
        mimetype=PROBLEM_MIME,
    )


def pydantic_problem(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    errors = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ()))
        field = f"{prefix}.{loc}" if prefix and loc else (loc or prefix or "body")
        errors.append({"field": field, "message": err.get("msg", ""), "type": err.get("type")})
    first = errors[0] if errors else {"field": prefix or "body", "message": ""}
    p = ValidationFailed(
        first["field"],
        _("Invalid value for %(field)s: %(msg)s", field=first["field"], msg=first["message"]),
    )
    p.errors = errors
    return p


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        if wants_json():
            resp = problem_response(exc)
        else:
            resp = app.make_response(
                (
                    render_template(
                        "errors/error.html", status=exc.status, title=exc.title, detail=exc.detail
                    ),
                    exc.status,
                )
            )
        resp.headers.update(getattr(exc, "headers", None) or {})
        return resp

    @app.errorhandler(ValidationError)
    def _pydantic(exc: ValidationError):
        return _problem(pydantic_problem(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return _problem(
            Problem(
                _("The form expired or the security token is missing; reload and try again."),
                field="csrf_token",
                status=400,
                title=_("CSRF token missing or invalid"),
                code="csrf",
            )
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        titles = {
            400: _("Bad request"),
            401: _("Login required"),
            403: _("Forbidden"),
            404: _("Not found"),
            405: _("Method not allowed"),
            413: _("Request too large"),
            415: _("Unsupported media type"),
            429: _("Too many requests; please wait a moment"),
        }
        title = titles.get(exc.code or 500, exc.name)
        detail = None
        if exc.code == 413:
            detail = _("The upload is larger than the allowed size.")
        p = Problem(detail, status=exc.code or 500, title=title)
        resp = _problem(p)
        if exc.code in (405, 429) and hasattr(exc, "get_headers"):
            # 405 names what is allowed (RFC 9110 §15.5.6); 429 says when to come back.
            for k, v in exc.get_headers():
                if k.lower() in ("allow", "retry-after", "x-ratelimit-reset"):
                    resp.headers[k] = v
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return _problem(
            Problem(_("Something went wrong on our side."), status=500, title=_("Server error"))
        )

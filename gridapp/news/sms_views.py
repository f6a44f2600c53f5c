"""The public SMS opt-in pages of a community's news: ``/n/<token>/sms`` (phone and consent →
a code by SMS), ``/n/<token>/sms/verify`` (the code → following), ``/n/<token>/sms/stop``.
Plain forms (no script), rate-limited per address; shown only where SMS is configured."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import gettext as _

from gridapp.echowall.service import community_by_token
from gridapp.errors import NotFound, Problem
from gridapp.extensions import limiter
from gridapp.masking import mask_phone
from gridapp.news import sms
from gridapp.news.public import bp


def _limit(name: str, default: str):
    return lambda: current_app.config.get(name) or default


def _page(token: str, step: str, *, phone: str = "", error: Problem | None = None,
          message: str = "", status: int = 200):  # fmt: skip
    try:
        community = community_by_token(token)
    except NotFound:
        return render_template(
            "echowall/not_found.html", message=_("This news page does not exist.")
        ), 404
    if not sms.available():
        step, message = "off", _("Text messages are not available here.")
    masked = mask_phone(phone) if phone else ""
    return render_template(
        "news/sms.html",
        community=community,
        token=token,
        step=step,
        phone=phone,
        consent=sms.consent_text(masked or _("this number"), community.name),
        error=error,
        message=message,
    ), (error.status if error else status)


@bp.route("/n/<token>/sms", methods=["GET", "POST"])
@limiter.limit(_limit("NEWS_SMS_LIMIT", "5 per 10 minutes"), methods=["POST"])
def news_sms(token: str):
    if request.method == "GET":
        return _page(token, "phone")
    phone = (request.form.get("phone") or "").strip()[:20]
    if not request.form.get("consent"):
        return _page(token, "phone", phone=phone, error=Problem(
            _("Tick the box to agree to the text messages."), status=422, field="consent"))  # fmt: skip
    try:
        masked = sms.request_code(token, phone)
    except NotFound:
        return _page(token, "phone")
    except Problem as exc:
        return _page(token, "phone", phone=phone, error=exc)
    return _page(token, "code", phone=phone,
                 message=_("A code was sent to %(phone)s.", phone=masked))  # fmt: skip


@bp.route("/n/<token>/sms/verify", methods=["POST"])
@limiter.limit(_limit("NEWS_SMS_VERIFY_LIMIT", "20 per 10 minutes"))
def news_sms_verify(token: str):
    phone = (request.form.get("phone") or "").strip()[:20]
    try:
        masked = sms.verify(token, phone, request.form.get("code", ""))
    except NotFound:
        return _page(token, "phone")
    except Problem as exc:
        return _page(token, "code", phone=phone, error=exc)
    return _page(token, "done", message=_(
        "%(phone)s now gets a text message for each new item.", phone=masked))  # fmt: skip


@bp.route("/n/<token>/sms/stop", methods=["POST"])
@limiter.limit(_limit("NEWS_SMS_LIMIT", "5 per 10 minutes"))
def news_sms_stop(token: str):
    phone = (request.form.get("phone") or "").strip()[:20]
    try:
        sms.stop(token, phone)
    except NotFound:
        return _page(token, "phone")
    except Problem as exc:
        return _page(token, "phone", phone=phone, error=exc)
    return _page(token, "stopped", message=_("No more news text messages to this number."))

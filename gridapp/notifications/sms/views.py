"""The provider's status-report callback: ``POST /hooks/sms/<token>`` with Tencent's JSON array
(``sid``, ``report_status`` SUCCESS/FAIL, ``errmsg``, ``description``, ``user_receive_time``,
``mobile``, ``nationcode``).

Tencent signs nothing in these callbacks, so the URL carries a secret (``SMS_CALLBACK_TOKEN``,
compared in constant time; unset: the route answers 404) and ``SMS_CALLBACK_ALLOW`` may list
the addresses the provider reports from. No session, so no CSRF token: nothing else this
route could be tricked into doing. The answer is what Tencent expects: ``{"result": 0, ...}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Blueprint, abort, jsonify, request

from gridapp.extensions import csrf
from gridapp.notifications.sms import catalog  # noqa: F401  (register the app's templates)
from gridapp.notifications.sms.reports import apply_reports
from gridapp.notifications.sms.settings import sms_settings

log = logging.getLogger("gridapp.notifications.sms")
bp = Blueprint("sms_hooks", __name__)
MAX_BODY = 1 << 20  # a report batch is a few hundred rows at most


def _allowed(addr: str | None, allow: list[str]) -> bool:
    if not allow:
        return True
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    for entry in allow:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            log.error("SMS_CALLBACK_ALLOW entry %r is not an address or network", entry)
    return False


@bp.route("/hooks/sms/<token>", methods=["POST"])
@csrf.exempt
def status_report(token: str):
    s = sms_settings()
    expected = s["callback_token"]
    if not expected or not hmac.compare_digest(token.encode(), str(expected).encode()):
        abort(404)
    if not _allowed(request.remote_addr, s["callback_allow"]):
        log.warning("SMS status report from %s refused (SMS_CALLBACK_ALLOW)", request.remote_addr)
        abort(403)
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    data = request.get_json(silent=True)
    if isinstance(data, dict):  # one report, not wrapped in a list
        data = [data]
    if not isinstance(data, list):
        return jsonify(result=1, errmsg="expected a JSON array of status reports"), 400
    counts = apply_reports(data)
    if counts["unknown"]:
        log.info("SMS status reports for unknown serial numbers: %s", counts["unknown"])
    return jsonify(result=0, errmsg="OK", **counts)


def init_app(app) -> None:
    app.register_blueprint(bp)

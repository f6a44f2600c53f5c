"""The templates this app sends, as approved with the provider (the provider's template id for
each key comes from ``SMS_TEMPLATES``). Their Chinese text is the approved text itself: it is
never translated, since the provider only delivers what it approved."""

from __future__ import annotations

from gridapp.notifications.sms.rules import register_template

NOTIFY_GENERIC = "notify.generic"
ECHO_ANSWERED = "echowall.answered"
ECHO_CLOSED = "echowall.closed"

# A staff notification by SMS: its title (shortened to fit) and a link into the app.
register_template(
    NOTIFY_GENERIC,
    ["title", "link"],
    "您有一条新通知：{title}。请查看：{link}",
    max_len={"title": 20, "link": 80},
    urls=["link"],
)
# A resident's opted-in SMS on their echo-wall matter (the tracking code only: no link, no
# name, nothing the resident did not already have).
register_template(
    ECHO_ANSWERED,
    ["code"],
    "您反映的诉求（查询码{code}）已有答复，请扫描网格海报二维码或凭查询码查看办理结果。",
    max_len={"code": 16},
)
register_template(
    ECHO_CLOSED,
    ["code"],
    "您反映的诉求（查询码{code}）已办结，欢迎凭查询码查看并评价办理结果。",
    max_len={"code": 16},
)

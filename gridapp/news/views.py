"""Registers news: the public pages, the API, the console pages and its nav link, the PWA's
strings and the sync entity."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from gridapp.news import api_views, console, public

# The app's UI strings for the news screens (static/pwa/news.js), added to the PWA's table.
PWA_STRINGS = {
    "news": _l("News"),
    "news_tab": _l("Newsfeed"),
    "news_none": _l("No news for your community right now."),
    "news_pinned": _l("Pinned"),
    "news_policy": _l("Policy notice"),
    "news_share": _l("Share"),
    "news_copied": _l("Link copied; paste it into a chat."),
    "news_copy_failed": _l("Copy this link:"),
    "news_expires": _l("Until {d}"),
    "news_attachments": _l("Attachments"),
    "news_back": _l("All news"),
}


def init_app(app: Flask) -> None:
    from gridapp.console.guard import SUPERVISORS
    from gridapp.console.views import NAV
    from gridapp.news import sms, sms_views, sync_entity  # noqa: F401  (sms_views: routes)
    from gridapp.pwa.strings import STRINGS

    app.register_blueprint(public.bp)
    app.register_blueprint(api_views.api)
    app.register_blueprint(console.bp)
    entry = ("news_console.news_list", _l("News"), SUPERVISORS)
    if entry[0] not in [n[0] for n in NAV]:
        NAV.insert(5, entry)
    STRINGS.update(PWA_STRINGS)
    sync_entity.register()
    sms.init()

"""A resident's browser follows a community's news by Web Push (no account), with the tracking
page's subscription rules (``echowall.push.check_subscription``: push hosts, public addresses,
key shapes). At most ``MAX_PER_COMMUNITY`` browsers per community (a flood cannot make the
fan-out unbounded); the same endpoint again refreshes its keys."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from peewee import IntegrityError

from gridapp.db import db
from gridapp.echowall.push import check_subscription
from gridapp.echowall.service import community_by_token
from gridapp.errors import Problem
from gridapp.news.models import NewsFollower
from gridapp.org.models import Community

MAX_PER_COMMUNITY = 50_000


def follow(token: str, endpoint: str, p256dh: str, auth: str, locale: str = ""):
    """(row, created) for this browser following the community ``token`` names."""
    community: Community = community_by_token(token)
    if locale not in current_app.config["LANGUAGES"]:
        locale = ""
    check_subscription(endpoint, p256dh, auth)
    where = (NewsFollower.community == community.id) & (NewsFollower.endpoint == endpoint)
    with db.atomic():
        row = NewsFollower.get_or_none(where)
        if row is None:
            n = NewsFollower.select().where(NewsFollower.community == community.id).count()
            if n >= current_app.config.get("NEWS_MAX_FOLLOWERS", MAX_PER_COMMUNITY):
                raise Problem(
                    _("Too many devices follow this community already."),
                    field="endpoint", status=409, code="too_many",
                )  # fmt: skip
            try:
                with db.atomic():
                    row = NewsFollower.create(
                        community=community.id, endpoint=endpoint, p256dh=p256dh, auth=auth,
                        locale=locale,
                    )  # fmt: skip
                return row, True
            except IntegrityError:  # the same browser twice at once: one row
                row = NewsFollower.get(where)
        if (row.p256dh, row.auth, row.locale) != (p256dh, auth, locale):
            row.p256dh, row.auth, row.locale = p256dh, auth, locale
            row.save()
        return row, False


def unfollow(token: str, endpoint: str) -> bool:
    community = community_by_token(token)
    with db.atomic():
        return bool(
            NewsFollower.delete()
            .where(NewsFollower.community == community.id, NewsFollower.endpoint == endpoint)
            .execute()
        )


def follower_counts(community_ids: list[int]) -> dict[int, int]:
    from peewee import fn

    out = dict.fromkeys(community_ids, 0)
    if community_ids:
        for cid, n in (
            NewsFollower.select(NewsFollower.community, fn.COUNT(NewsFollower.id))
            .where(NewsFollower.community.in_(community_ids))
            .group_by(NewsFollower.community)
            .tuples()
        ):
            out[cid] = n
    return out

"""Inbox, push subscription, preference and announcement endpoints. Thin: parse, call one
service verb, return."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask_login import current_user

from gridapp.api import current_scope, endpoint
from gridapp.notifications import announcements, schemas, service, subscriptions
from gridapp.notifications.channels import channels

api = Blueprint("notifications_api", __name__, url_prefix="/api/v1")


def _me():
    return current_user._get_current_object()


# ---- inbox ---------------------------------------------------------------------------------


@endpoint(
    api,
    "/notifications",
    query=schemas.InboxQuery,
    response=schemas.InboxOut,
    tags=["notifications"],
)
def inbox(query: schemas.InboxQuery):
    """My notifications, newest first (paged)."""
    return service.list_inbox(_me(), query.page, query.per_page, query.unread)


@endpoint(api, "/notifications/unread-count", response=schemas.UnreadOut, tags=["notifications"])
def unread_count():
    """How many of my notifications are unread (the badge)."""
    return {"unread": service.unread_count(_me())}


@endpoint(
    api,
    "/notifications/<int:notification_id>/read",
    methods=["POST"],
    response=schemas.NotificationOut,
    tags=["notifications"],
)
def mark_read(notification_id: int):
    """Mark one of my notifications read."""
    return service.mark_read(_me(), notification_id)


@endpoint(
    api,
    "/notifications/read-all",
    methods=["POST"],
    response=schemas.ReadAllOut,
    tags=["notifications"],
)
def mark_all_read():
    """Mark all my notifications read."""
    return {"updated": service.mark_all_read(_me())}


@endpoint(api, "/notifications/settings", response=schemas.SettingsOut, tags=["notifications"])
def get_settings():
    """My channel choices per notification type, and my quiet hours."""
    return service.get_settings(_me())


@endpoint(
    api,
    "/notifications/settings",
    methods=["PUT"],
    body=schemas.SettingsIn,
    response=schemas.SettingsOut,
    tags=["notifications"],
)
def put_settings(body: schemas.SettingsIn):
    """Change channel choices (type "*" means every type) and quiet hours."""
    prefs = [service.Preference(p.type, p.channel, p.enabled) for p in body.preferences or []]
    quiet = None
    if body.quiet_hours is not None:
        q = body.quiet_hours
        quiet = service.Quiet(q.enabled, q.start, q.end, q.timezone)
    return service.update_settings(_me(), prefs, quiet)


# ---- push ----------------------------------------------------------------------------------


@endpoint(api, "/push/key", response=schemas.PushKeyOut, auth=False, tags=["push"])
def push_key():
    """The VAPID applicationServerKey for PushManager.subscribe()."""
    return {"key": channels()["webpush"].keys().application_server_key}


@endpoint(api, "/push/subscriptions", response=list[schemas.SubscriptionOut], tags=["push"])
def my_subscriptions():
    """My subscribed devices."""
    return subscriptions.list_subscriptions(_me())


@endpoint(
    api,
    "/push/subscriptions",
    methods=["POST"],
    body=schemas.SubscriptionIn,
    response=schemas.SubscriptionOut,
    status=201,
    tags=["push"],
    responses={200: "already subscribed (the same endpoint)"},
)
def subscribe(body: schemas.SubscriptionIn):
    """Subscribe this device: post subscription.toJSON() as it is."""
    row, created = subscriptions.subscribe_push(
        _me(),
        body.endpoint,
        body.keys.p256dh,
        body.keys.auth,
        body.expirationTime,
        request.headers.get("User-Agent", ""),
    )
    return row, 201 if created else 200


@endpoint(
    api,
    "/push/subscriptions",
    methods=["DELETE"],
    body=schemas.UnsubscribeIn,
    status=204,
    tags=["push"],
)
def unsubscribe(body: schemas.UnsubscribeIn):
    """Unsubscribe this device (by endpoint)."""
    subscriptions.unsubscribe_push(_me(), body.endpoint)
    return current_app.response_class(status=204)


# ---- announcements -------------------------------------------------------------------------


@endpoint(
    api,
    "/announcements",
    methods=["POST"],
    body=schemas.AnnouncementIn,
    response=schemas.AnnouncementOut,
    status=202,
    roles=("supervisor", "admin"),
    tags=["notifications"],
)
def create_announcement(body: schemas.AnnouncementIn):
    """Broadcast to every grid worker of a community (or of a set of grids)."""
    a = announcements.announce(
        _me(),
        current_scope(),
        body.title,
        body.body,
        body.link,
        urgent=body.urgent,
        community_id=body.community_id,
        grid_ids=body.grid_ids,
    )
    return announcements.get_announcement(current_scope(), a.id)


@endpoint(
    api,
    "/announcements",
    query=schemas.PageQuery,
    response=list[schemas.AnnouncementOut],
    roles=("supervisor", "admin"),
    tags=["notifications"],
)
def list_announcements(query: schemas.PageQuery):
    """My announcements with recipient and read counts."""
    return announcements.list_announcements(current_scope(), query.page, query.per_page)


@endpoint(
    api,
    "/announcements/<int:announcement_id>",
    response=schemas.AnnouncementOut,
    roles=("supervisor", "admin"),
    tags=["notifications"],
)
def get_announcement(announcement_id: int):
    """One announcement with its read count."""
    return announcements.get_announcement(current_scope(), announcement_id)


def init_app(app: Flask) -> None:
    from gridapp.notifications import delivery  # noqa: F401  (registers the jobs)
    from gridapp.notifications.vapid import ensure_keys

    ensure_keys(app.instance_path)  # the VAPID key pair, generated on first run (0600)
    app.register_blueprint(api)
    from gridapp.notifications.reach_views import api as reach_api

    app.register_blueprint(reach_api)
    from gridapp.notifications.policy_views import api as policy_api

    app.register_blueprint(policy_api)

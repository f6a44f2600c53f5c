"""企业微信 (WeCom) tables: who is which WeCom member, and the shared access token.

- ``WecomBinding``: one row per user, the member's ``userid`` in one corp (unique per corp).
  A binding the API has reported gone (unknown member) is kept but disabled, with the reason,
  so an admin sees why the channel stopped and can fix or clear it.
- ``WecomToken``: the corp/agent access token and a fetch lock, for deployments without Redis
  (every process reads the same row; the lock keeps 30 workers from all calling gettoken).
"""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User


class WecomBinding(BaseModel):
    user = ForeignKeyField(User, unique=True, backref="wecom_binding", on_delete="CASCADE")
    corp_id = CharField(max_length=64)
    userid = CharField(max_length=64)
    bound_at = DateTimeField(default=utcnow)
    bound_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    via = CharField(max_length=10, default="admin")  # admin | import | oauth
    disabled_at = DateTimeField(null=True)
    disabled_reason = CharField(max_length=200, default="")

    class Meta:
        table_name = "wecom_binding"
        indexes = ((("corp_id", "userid"), True),)


class WecomToken(BaseModel):
    key = CharField(max_length=160, primary_key=True)  # "<corp>:<agent>"
    token = CharField(max_length=600, default="")
    expires_at = DateTimeField(null=True)
    lock_until = DateTimeField(null=True)

    class Meta:
        table_name = "wecom_token"

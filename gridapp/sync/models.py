"""Results of pushed operations, keyed by (user, client op id), so a replay answers the same."""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User


class SyncOp(BaseModel):
    user = ForeignKeyField(User, backref="sync_ops", on_delete="CASCADE")
    op_id = CharField(max_length=64)
    type = CharField(max_length=40)
    status = CharField(max_length=12)  # applied / rejected (conflicts are not stored)
    # A record the op created under a client id, so later ops (same batch or later) can refer to
    # it as "c:<client_id>" before the device knows the server id.
    entity = CharField(max_length=40, default="")
    client_id = CharField(max_length=64, default="")
    server_id = CharField(max_length=64, default="")
    result = TextField()  # the JSON answer given the first time
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = (
            (("user", "op_id"), True),
            (("user", "entity", "client_id"), False),
        )

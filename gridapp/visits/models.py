"""The visit log (走访记录 / 民情日记) and the admin-editable service-pack catalogue."""

from __future__ import annotations

import json

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import Grid, User
from gridapp.registry.models import Household

MODES = ("home", "phone", "wechat", "street")  # 入户 / 电话 / 微信 / 偶遇


class ServiceItem(BaseModel):
    """便民服务包 catalogue entry (血压测量, 政策宣传, 代办, 小修小补, …)."""

    code = CharField(max_length=40, unique=True)
    name = CharField(max_length=40, unique=True)
    sort = IntegerField(default=0)
    is_active = BooleanField(default=True)


class Visit(BaseModel):
    # The client generates the UUID offline: replaying an upload finds the same row.
    id = CharField(max_length=36, primary_key=True)
    worker = ForeignKeyField(User, backref="visits", on_delete="RESTRICT")
    household = ForeignKeyField(Household, backref="visits", on_delete="RESTRICT")
    # The household's grid when the visit happened: visits stay with the grid that made them.
    grid = ForeignKeyField(Grid, backref="visits", on_delete="RESTRICT")
    visited_at = DateTimeField()
    mode = CharField(max_length=10, default="home")
    lat = DoubleField(null=True)
    lon = DoubleField(null=True)
    accuracy = DoubleField(null=True)
    notes = TextField(default="")
    resident_ids = TextField(default="[]")  # JSON list of the residents met
    services = TextField(default="[]")  # JSON list of ServiceItem codes
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("grid", "visited_at"), False),
            (("household", "visited_at"), False),
        )

    @property
    def resident_id_list(self) -> list[int]:
        return json.loads(self.resident_ids or "[]")

    @property
    def service_list(self) -> list[str]:
        return json.loads(self.services or "[]")

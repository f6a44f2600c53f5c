"""Registry rows for sync tests, written the way services write them (change recorded in the
same transaction)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.registry.models import Building, Household, Resident
from gridapp.registry.names import name_keys
from tests.mirror import mirror_check  # noqa: F401

_rooms = itertools.count(101)


class Registry:
    def building(self, grid, name: str = "1号楼") -> Building:
        with db.atomic():
            b = Building.create(grid=grid, name=name)
            record_change("building", b.id, grid_id=b.grid_id)
        return b

    def household(self, building: Building, phone: str = "13812341234", **kw: Any) -> Household:
        with db.atomic():
            h = Household.create(
                grid=building.grid_id,
                building=building,
                phone=phone,
                **{"room": str(next(_rooms)), **kw},
            )
            record_change("household", h.id, grid_id=h.grid_id)
        return h

    def resident(self, household: Household, name: str = "张三", **kw: Any) -> Resident:
        pinyin, initials = name_keys(name)
        phone = kw.pop("phone", "13900001111")
        with db.atomic():
            r = Resident.create(
                grid=household.grid_id,
                household=household,
                name=name,
                name_pinyin=pinyin,
                name_initials=initials,
                phone=phone,
                phone_tail=phone[-4:],
                **kw,
            )
            record_change("resident", r.id, grid_id=r.grid_id)
        return r


@pytest.fixture
def reg(org) -> Registry:
    return Registry()


@pytest.fixture(autouse=True)
def _mirror(mirror_check):  # noqa: F811
    """Every device's incremental state equals a cold pull after each write (tests/mirror.py)."""
    return mirror_check

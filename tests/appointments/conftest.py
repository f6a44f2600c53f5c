"""Fixtures for appointments: a community's catalogue (a hall service open every day the
calendar says is a working day, and an at-home one), its supervisor and the grid's worker."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

ALL_WEEK = {str(d): [["09:00", "11:00", 2], ["14:00", "17:00", 2]] for d in range(7)}


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def appt(app, org, make_user):
    from gridapp.appointments import catalogue
    from gridapp.echowall.service import token_for

    app.config["APPT_BOOK_LIMIT"] = "1000 per minute"
    app.config["APPT_CHANGE_LIMIT"] = "1000 per minute"
    sup = make_user("supervisor", community=org.community, username="appt_sup")
    worker = make_user("grid_worker", grids=[org.grid], username="appt_w", display_name="王网格")
    hall = catalogue.save_service(
        sup,
        {
            "community_id": org.community.id,
            "name": "开具证明",
            "materials": ["身份证", "户口本"],
            "place": "hall",
            "location": "党群服务中心一楼",
            "duration_minutes": 15,
            "slot_minutes": 30,
            "hours": ALL_WEEK,
        },
    )
    home = catalogue.save_service(
        sup,
        {
            "community_id": org.community.id,
            "name": "上门服务",
            "materials": ["身份证"],
            "place": "home",
            "duration_minutes": 60,
            "slot_minutes": 60,
            "hours": {str(d): [["09:00", "12:00", 1]] for d in range(7)},
        },
    )
    return SimpleNamespace(
        sup=sup,
        worker=worker,
        hall=hall,
        home=home,
        community=org.community,
        grid=org.grid,
        grid_token=token_for("grid", org.grid.id),
        community_token=token_for("community", org.community.id),
    )


def first_slot(service, skip: int = 0, min_left: int = 1):
    from gridapp.appointments import catalogue

    slots = [s for s in catalogue.open_slots(service) if s["left"] >= min_left]
    return slots[skip]["starts_at"]

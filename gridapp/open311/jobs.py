"""Nightly: place buildings from the day's home-visit GPS fixes (admin points are kept), so a
request by lat/long finds buildings the grid workers have been visiting."""

from __future__ import annotations

from huey import crontab

from gridapp.jobs import app_periodic_task
from gridapp.open311.places import derive_points_from_visits


@app_periodic_task(crontab(minute="41", hour="2"))
def derive_points_job() -> int:
    return derive_points_from_visits()

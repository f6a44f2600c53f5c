"""Fixtures for the echo wall: a grid with its worker, its public token and a resident client."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.notifications.conftest import push_service  # noqa: F401  (the fake push service)
from tests.notifications.sms_fixtures import fake_sms, sms_config  # noqa: F401  (fake SMS API)


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Resident:
    """An anonymous phone: opens the grid's page, posts the form with the page's CSRF token."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.url = f"/e/{token}"

    def submit(self, text="3栋楼道灯坏了很久了", phone="", photo=None, environ=None):
        page = self.client.get(self.url, environ_base=environ or {})
        assert page.status_code == 200
        data = {
            "csrf_token": form_token(page.get_data(as_text=True)),
            "text": text,
            "contact_phone": phone,
        }
        if photo is not None:
            data["photo"] = photo
        return self.client.post(
            self.url,
            data=data,
            content_type="multipart/form-data",
            environ_base=environ or {},
        )


@pytest.fixture
def echo(app, org, make_user, login_as):
    from gridapp.echowall.service import token_for
    from gridapp.org.models import User

    worker = make_user("grid_worker", grids=[org.grid], display_name="王小网")
    User.update(phone="13912345678").where(User.id == worker.id).execute()
    sup = make_user("supervisor", community=org.community, display_name="网格长")
    admin = make_user("admin")
    token = token_for("grid", org.grid.id)
    return SimpleNamespace(
        worker=worker,
        sup=sup,
        admin=admin,
        token=token,
        wall_token=token_for("community", org.community.id),
        resident=Resident(app.test_client(), token),
        sup_client=login_as(sup),
        admin_client=login_as(admin),
    )

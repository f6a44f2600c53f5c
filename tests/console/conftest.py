"""Console fixtures: one user per role, logged-in clients."""

from __future__ import annotations

import pytest


@pytest.fixture
def people(org, make_user):
    """One user of every role, in the test organisation."""
    return {
        "admin": make_user("admin", username="admin1", display_name="管理员"),
        "supervisor": make_user("supervisor", username="sup1", display_name="张网格长"),
        "grid_worker": make_user("grid_worker", username="worker1", display_name="李网格员"),
        "department": make_user("department", username="dept1", display_name="水务王工"),
    }


def form_post(client, url, data=None, **kw):
    """POST a form the way a browser does (CSRF token in the form, not the header)."""
    from tests.conftest import csrf_token

    token = client.environ_base.get("HTTP_X_CSRFTOKEN") or csrf_token(client)
    data = dict(data or {})
    data.setdefault("csrf_token", token)
    headers = {"Accept": "text/html"}
    saved = client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    try:
        return client.post(url, data=data, headers=headers, **kw)
    finally:
        if saved is not None:
            client.environ_base["HTTP_X_CSRFTOKEN"] = saved

"""The authorization matrix, generated: every operation of /api/v1/openapi.json and every page
route of app.url_map × every role (grid worker, community supervisor, street supervisor,
department handler, admin, anonymous) × own grid / other grid / other community / other street /
other department. Records in each scope carry marker strings; what is not allowed must be refused
(401 anonymous, 403 for the role — the document's ``x-roles`` — and 404 for a record out of
scope), never a 500, never a 2xx page or body holding another scope's marker or tracking code,
and a refused write changes no row. One world per role (a fixture), a few hundred requests each.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import uuid
from collections import Counter
from typing import Any

import pytest
from PIL import Image

from tests.conftest import api_login, csrf_token
from tests.test_api_fuzz import Schemas, table_state

ROLES = ["grid_worker", "sup_community", "sup_street", "department", "admin", "anonymous"]
ROLE_OF = {"sup_community": "supervisor", "sup_street": "supervisor"}
# Which scopes each role must not reach (the worker's grid is G1, in community C1 of street S1;
# G2 is C1's other grid, C2 the other community of S1, S2 another street; department "water"
# handles G1's matter, "power" the others).
FORBIDDEN = {
    "grid_worker": ["G2", "C2", "S2"],
    "sup_community": ["C2", "S2"],
    "sup_street": ["S2"],
    "department": ["G2", "C2", "S2"],
    "admin": [],
    "anonymous": ["G1"],
}
# Ids an operation names a scoped record by (path, query or body).
SCOPED = {"household_id", "building_id", "resident_id", "matter_id", "task_id", "visit_id",
          "photo_id", "grid_id", "grid_ids", "community_id", "campaign_id", "worker_id",
          "household", "code", "token", "user_id", "row_id", "session_id", "service_id",
          "booking_id", "news_id"}  # fmt: skip
# Operations that end the session or are anonymous by design.
SKIP = {("post", "/api/v1/auth/logout"), ("post", "/api/v1/auth/login"), ("post", "/logout"),
        ("post", "/login"), ("post", "/lang/<code>")}  # fmt: skip
PUBLIC_PREFIXES = (
    "/e/",
    "/t/",
    "/w/",
    "/n/",
    "/b/",
    "/api/v1/track/",
    "/login",
    "/lang/",
    "/healthz",
    "/manifest.webmanifest",
    "/offline",
    "/sw.js",
    "/api/v1/auth/csrf",
    "/api/v1/push/key",
    "/app",
    "/open311/",  # Open311 GeoReport v2: keyless reads of public data, key-authenticated POST
    "/hooks/",  # providers' callbacks (SMS status reports): a secret in the URL, no session
    "/auth/wecom",  # sign in with 企业微信: anonymous by design, 404 unless enabled
)  # the PWA's shell: cached for offline use, logs in itself, no data
# fmt: skip
# Page routes by who may open them (a new page must be listed here, or this test fails).
PAGE_ROLES: list[tuple[str, set[str]]] = [
    ("/console/admin/notifications/policy", {"admin"}),
    ("/console/admin/notifications/delivery", {"admin"}),
    ("/console/admin", {"admin"}),
    ("/console/department", {"department"}),
    ("/console/matters/<int:matter_id>", {"supervisor", "admin", "department"}),
    ("/console/news", {"supervisor", "admin"}),
    ("/console/appointments", {"supervisor", "admin"}),
    ("/console/", {"supervisor", "admin"}),
    ("/console", {"supervisor", "admin"}),
    ("/echowall/", {"supervisor", "admin"}),
    ("/", {"grid_worker", "supervisor", "admin", "department"}),
]
# GETs of one record that the role must be able to read in its own scope (not vacuous).
MUST_READ = {
    "grid_worker": ["households", "residents", "matters", "tasks", "visits", "photos"],
    "sup_community": ["households", "residents", "matters", "tasks", "visits", "photos"],
    "sup_street": ["households", "residents", "matters", "tasks", "visits"],
    "department": ["matters"],
    "admin": ["households", "residents", "matters", "tasks", "visits", "photos"],
}


# A worker's notification and its push delivery (the service worker's acknowledgment names both).
SCOPED |= {"notification_id", "delivery_id"}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, "JPEG")
    return out.getvalue()


class World:
    """Four grids' worth of records, each with its scope's marker, and one user per role."""

    def __init__(self, app, org, make_user) -> None:
        from gridapp.appointments import catalogue as appt_catalogue
        from gridapp.appointments import service as appt_service
        from gridapp.echowall.service import token_for
        from gridapp.matters import service as msvc
        from gridapp.org.models import Community, Department, Grid, Street
        from gridapp.photos.service import store_photo
        from gridapp.registry.service import create_building, create_household, create_resident
        from gridapp.tasks.service import assign_task
        from gridapp.visits.service import log_visit

        s2 = Street.create(name="西区街道", code="s2")
        c3 = Community.create(street=s2, name="西苑社区", code="c3")
        g4 = Grid.create(community=c3, name="第9网格", code="c3-09", sort=1)
        dept3 = Department.create(name="燃气公司", code="gas", street=s2)
        grids = {"G1": org.grid, "G2": org.grid2, "C2": org.other_grid, "S2": g4}
        self.admin = make_user("admin", username="mx_admin")
        self.users = {
            "grid_worker": make_user("grid_worker", username="mx_worker", grids=[org.grid]),
            "sup_community": make_user("supervisor", username="mx_sup", community=org.community),
            "sup_street": make_user("supervisor", username="mx_street", street=org.street),
            "department": make_user("department", username="mx_water", department=org.department),
            "admin": self.admin,
        }
        workers = {"G1": self.users["grid_worker"]}
        for name in ("G2", "C2", "S2"):
            workers[name] = make_user("grid_worker", username=f"mx_w_{name}", grids=[grids[name]])
        dept_of = {"G1": org.department.id, "G2": org.department2.id,
                   "C2": org.department2.id, "S2": dept3.id}  # fmt: skip
        from gridapp.db import utcnow
        from gridapp.news.service import create_item
        from gridapp.scope import scope_for

        news_by_community: dict[int, Any] = {}
        self.ids: dict[str, dict[str, Any]] = {}
        self.markers: dict[str, dict[str, str]] = {}
        for name, grid in grids.items():
            mk = f"mk{name}"
            b = create_building(self.admin, {"grid_id": grid.id, "name": f"{mk}B"})
            h = create_household(self.admin, {"building_id": b["id"], "room": "101"})
            r = create_resident(self.admin, {"household_id": h["id"], "name": f"{mk}R",
                                             "phone": "13812345678"})  # fmt: skip
            worker = workers[name]
            m = msvc.report_matter(worker, source="worker", grid_id=grid.id, text=f"{mk}M",
                                   title=f"{mk}M", contact_phone="13912345678")  # fmt: skip
            m = msvc.transition_matter(self.admin, m.id, "triage", version=m.version,
                                       category="专事")  # fmt: skip
            m = msvc.transition_matter(self.admin, m.id, "dispatch", version=m.version,
                                       department_ids=[dept_of[name]])  # fmt: skip
            task = assign_task(self.admin, title=f"{mk}T", target="worker", worker_id=worker.id)
            campaign = assign_task(self.admin, title=f"{mk}K", target="grids", grid_ids=[grid.id])
            visit_id = str(uuid.uuid4())
            log_visit(worker, visit_id, {"household_id": h["id"], "notes": f"{mk}V"})
            photo, _ = store_photo(worker, str(uuid.uuid4()), _jpeg(), owner_type="visit",
                                   owner_id=visit_id)  # fmt: skip
            svc = appt_catalogue.save_service(self.admin, {
                "community_id": grid.community_id, "name": f"{mk}S",
                "hours": {str(d): [["09:00", "12:00", 3]] for d in range(7)}})  # fmt: skip
            starts = appt_catalogue.open_slots(svc)[0]["starts_at"]
            booking = appt_service.book(grid.community_id, svc.id, starts, "张三", "13712345678",
                                        grid_id=grid.id)  # fmt: skip
            self.ids[name] = {
                "grid_id": grid.id, "grid_ids": [grid.id], "community_id": grid.community_id,
                "building_id": b["id"], "household_id": h["id"], "household": h["id"],
                "resident_id": r["id"], "matter_id": m.id, "task_id": task.task_ids[0],
                "campaign_id": campaign.campaign_id or task.task_ids[0], "visit_id": visit_id,
                "photo_id": photo.id, "worker_id": worker.id, "user_id": worker.id,
                "row_id": grid.id, "code": m.code, "token": token_for("grid", grid.id),
                "department_ids": [dept_of[name]], "department_id": dept_of[name],
                "service_id": svc.id, "booking_id": booking.id,
            }  # fmt: skip
            # A news item of the grid's community, unpublished (scheduled for next year): only
            # editors in scope may see it. Communities share items, so G1 and G2 share one.
            news_item = news_by_community.get(grid.community_id)
            if news_item is None:
                news_item = news_by_community[grid.community_id] = create_item(
                    self.admin, scope_for(self.admin),
                    {"community_id": grid.community_id, "title": f"{mk}N",
                     "publish_at": utcnow() + dt.timedelta(days=365)},
                )  # fmt: skip
            self.ids[name]["news_id"] = news_item.id
            self.markers[name] = {"R": f"{mk}R", "M": f"{mk}M", "T": f"{mk}T", "V": f"{mk}V",
                                  "S": f"{mk}S", "code": m.code,
                                  "N": news_item.title}  # fmt: skip
        self.clients = {
            role: api_login(app.test_client(), user.username) for role, user in self.users.items()
        }
        # A device session of someone else, for /sessions/<id>: nobody's run may end its own.
        from gridapp.accounts.models import UserSession

        bystander = make_user("grid_worker", username="mx_bystander", grids=[org.grid])
        api_login(app.test_client(), bystander.username)
        other_session = UserSession.select().where(UserSession.user == bystander.id).get().id
        for ids in self.ids.values():
            ids["session_id"] = other_session
        # Each grid worker's pushed notification: the service worker's acknowledgment names it
        # and its delivery (nobody may acknowledge another's).
        from gridapp.notifications.models import Delivery, Notification

        for name, worker in workers.items():
            note = Notification.create(
                recipient=worker.id, type="task.assigned", title=f"mk{name}P"
            )
            push = Delivery.create(notification=note.id, channel="webpush", status="sent",
                                   dedupe_key=f"{note.id}:webpush:0")  # fmt: skip
            self.ids[name].update(notification_id=note.id, delivery_id=push.id)
            self.markers[name]["P"] = note.title
        anonymous = app.test_client()  # with a CSRF token, so the login check is what answers
        anonymous.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(anonymous)
        self.clients["anonymous"] = anonymous

    def forbidden_strings(self, role: str, path: str) -> list[str]:
        out = []
        for scope in FORBIDDEN[role] if role != "anonymous" else self.markers:
            out += list(self.markers[scope].values())
        if role in ("department", "anonymous"):  # never any registry, task or visit text
            for marks in self.markers.values():
                out += [marks["R"], marks["T"], marks["V"]]
        if path.startswith(("/t/", "/api/v1/track/")):  # public: the code's holder sees its matter
            out = [s for s in out if not s.endswith("M") and not re.fullmatch(r"[A-Z0-9]+", s)]
        if path.startswith("/b/"):  # public: a community's service catalogue
            out = [s for s in out if not s.endswith("S")]
        return sorted(set(out))


@pytest.fixture(params=ROLES)
def world(request, app, org, make_user):
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = True
    app.config["PRIVACY_REVEAL_LIMIT"] = "10000 per hour"
    app.config["UPLOAD_LIMIT_PHOTO_USER"] = "10000 per minute"
    app.config["UPLOAD_LIMIT_PHOTO_ADDRESS"] = "10000 per minute"
    app.config["ECHOWALL_SUBMIT_LIMIT"] = "10000 per minute"
    app.config["APPT_BOOK_LIMIT"] = "10000 per minute"
    app.config["APPT_CHANGE_LIMIT"] = "10000 per minute"
    return request.param, World(app, org, make_user)


def _fill(path: str, ids: dict[str, Any]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1).split(":")[-1]
        if name == "kind":  # a notification policy's kind, else a registry kind
            return "task.assigned" if "/notifications/policy/" in path else "grid"
        if name == "day":
            return "2026-10-01"
        return str(ids.get(name, 1))

    return re.sub(r"[{<]([^}>]+)[}>]", sub, path)


def _names_scoped(path: str, body: Any, params: list[str]) -> bool:
    names = set(re.findall(r"[{<](?:[^}>:]+:)?([^}>]+)[}>]", path)) | set(params)
    if isinstance(body, dict):
        names |= set(body)
    return bool(names & SCOPED)


class Matrix:
    def __init__(self, world: World, role: str) -> None:
        self.w, self.role = world, role
        self.client = world.clients[role]
        self.failures: list[str] = []
        self.counts: Counter = Counter()
        self.answered: list[str] = []

    def fail(self, what: str, why: str) -> None:
        self.failures.append(f"{self.role} {what}: {why}")

    def leaks(self, what: str, resp, path: str) -> None:
        if resp.status_code >= 400 or resp.mimetype not in (
            "application/json", "text/html", "text/csv", "application/problem+json",
        ):  # fmt: skip
            return
        text = resp.get_data(as_text=True)
        for s in self.w.forbidden_strings(self.role, path):
            if s in text:
                self.fail(what, f"{resp.status_code} shows {s!r}")
                return

    def follow(self, what: str, resp, path: str) -> None:
        """A redirect's next page (where a flash message would show) leaks nothing either."""
        loc = resp.headers.get("Location", "")
        if resp.status_code in (301, 302, 303) and loc.startswith(("/", "http://localhost")):
            nxt = self.client.get(loc.replace("http://localhost", ""))
            if nxt.status_code >= 500:
                self.fail(what, f"redirect to {loc} answers {nxt.status_code}")
            self.leaks(f"{what} → {loc}", nxt, path)

    def record(self, scope: str, resp, what: str = "") -> None:
        status = resp.status_code
        if status in (401, 403, 404) or (
            status in (302, 303) and "/login" in resp.headers.get("Location", "")
        ):
            kind = "refused"
        elif status >= 400:
            kind = "rejected"  # 400/409/415/422/429: refused for its input, before any scope
        else:
            kind = "answered"
            self.answered.append(f"{what} {status}")
        self.counts[(scope, kind)] += 1


def _api_ops(doc: dict) -> list[tuple[str, str, dict]]:
    ops = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()
           if (m, p) not in SKIP]  # fmt: skip
    return sorted(ops, key=lambda o: (o[0] != "get", "delete" in o[1] or o[0] == "delete", o[1]))


def _page_rules(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static/")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method.lower(), rule.rule) not in SKIP:
                out.append((method.lower(), rule.rule))
    return sorted(out, key=lambda o: (o[0] != "get", o[1]))


def _page_roles(rule: str) -> set[str] | None:
    if rule.startswith(PUBLIC_PREFIXES):
        return None  # public
    for prefix, roles in PAGE_ROLES:
        if rule == prefix or (prefix != "/" and rule.startswith(prefix.rstrip("/") + "/")):
            return roles
    raise AssertionError(f"page route {rule} is not in PAGE_ROLES: say who may open it")


def _run_api(mx: Matrix, app) -> None:
    w, role = mx.w, mx.role
    doc = w.clients["admin"].get("/api/v1/openapi.json").get_json()
    real_role = ROLE_OF.get(role, role)
    targets = ["G1", *FORBIDDEN[role]] if role != "anonymous" else ["G1"]
    for method, path, op in _api_ops(doc):
        content = (op.get("requestBody") or {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        secured = bool(op.get("security"))
        roles = op.get("x-roles")
        for scope in targets:
            ids = {**w.ids["G1"], **w.ids[scope]}
            body = Schemas(doc, ids).example(schema) if schema else None
            query = {p: (ids[p] if not isinstance(ids[p], list) else ids[p][0])
                     for p in params if p in ids}  # fmt: skip
            url = _fill(path, ids)
            what = f"{method.upper()} {path} [{scope}]"
            forbidden = scope != "G1" or role == "anonymous"
            before = table_state() if method != "get" and forbidden else None
            kw: dict[str, Any] = {"query_string": query}
            if body is not None:
                kw["json"] = body
            elif method == "put" and "photo" in path:
                kw = {"data": {"file": (io.BytesIO(_jpeg()), "p.jpg"), "owner_type": "visit",
                               "owner_id": ids["visit_id"]}, "content_type": "multipart/form-data"}  # fmt: skip
            resp = mx.client.open(url, method=method.upper(), **kw)
            mx.record(scope, resp, what)
            status = resp.status_code
            if status >= 500:
                mx.fail(what, f"{status}")
                continue
            mx.leaks(what, resp, path)
            if role == "anonymous":
                if secured and status != 401:
                    mx.fail(what, f"anonymous got {status}, not 401")
                continue
            if roles and real_role not in roles:
                if status != 403:
                    mx.fail(what, f"role not in x-roles {roles} got {status}, not 403")
                continue
            if not forbidden or not secured or not _names_scoped(path, body, list(query)):
                continue
            if path == "/api/v1/sync" and method == "post":
                results = resp.get_json().get("results", []) if status == 200 else []
                if any(r.get("status") == "applied" for r in results):
                    mx.fail(what, "an op on another scope's record was applied")
            elif method == "get" and "{" in path:
                if status != 404:
                    mx.fail(what, f"read of another scope's record got {status}, not 404")
            elif method != "get" and status < 400:
                mx.fail(what, f"write naming another scope's record got {status}")
            if before is not None and table_state() != before:
                mx.fail(what, f"{status} and rows changed")


def _must_read(mx: Matrix) -> None:
    ids = mx.w.ids["G1"]
    urls = {
        "households": f"/api/v1/households/{ids['household_id']}",
        "residents": f"/api/v1/residents/{ids['resident_id']}",
        "matters": f"/api/v1/matters/{ids['matter_id']}",
        "tasks": f"/api/v1/tasks/{ids['task_id']}",
        "visits": f"/api/v1/visits/{ids['visit_id']}",
        "photos": f"/api/v1/photos/{ids['photo_id']}/thumb",
    }
    for kind in MUST_READ.get(mx.role, []):
        resp = mx.client.get(urls[kind])
        if resp.status_code != 200:
            mx.fail(f"GET {urls[kind]}", f"own scope answered {resp.status_code}")


def _run_pages(mx: Matrix, app) -> None:
    w, role = mx.w, mx.role
    real_role = ROLE_OF.get(role, role)
    targets = ["G1", *FORBIDDEN[role]] if role != "anonymous" else ["G1"]
    for method, rule in _page_rules(app):
        allowed = _page_roles(rule)
        for scope in targets:
            ids = {**w.ids["G1"], **w.ids[scope]}
            url = _fill(rule, ids)
            what = f"{method.upper()} {rule} [{scope}]"
            forbidden = scope != "G1" or role == "anonymous"
            form = {k: (v[0] if isinstance(v, list) else v) for k, v in ids.items()}
            form.update(action="triage", category="个事", version="1", target="worker",
                        title="x", reason="x", text="x")  # fmt: skip
            before = table_state() if method == "post" and forbidden else None
            kw = {"data": form} if method == "post" else {}
            resp = mx.client.open(url, method=method.upper(), **kw)
            mx.record(scope, resp, what)
            status = resp.status_code
            if status >= 500:
                mx.fail(what, f"{status}")
                continue
            mx.leaks(what, resp, rule)
            mx.follow(what, resp, rule)
            if allowed is None:
                continue
            if role == "anonymous":
                loc = resp.headers.get("Location", "")
                if not (status == 401 or (status in (302, 303) and "/login" in loc)):
                    mx.fail(what, f"anonymous got {status} {loc}")
                continue
            if real_role not in allowed:
                loc = resp.headers.get("Location", "")
                to_app = status in (302, 303) and loc.rstrip("/").endswith("/app")
                if status not in (403, 404) and not to_app:  # a worker is sent to the app
                    mx.fail(what, f"role not allowed got {status} {loc}")
                continue
            named = set(re.findall(r"<(?:[^>:]+:)?([^>]+)>", rule)) & SCOPED
            if forbidden and named and method == "get" and status != 404:
                mx.fail(what, f"page of another scope's record got {status}, not 404")
            if before is not None and table_state() != before:
                mx.fail(what, f"{status} and rows changed")


def test_authorization_matrix(world, app, capsys):
    role, w = world
    mx = Matrix(w, role)
    _must_read(mx) if role != "anonymous" else None
    _run_api(mx, app)
    _run_pages(mx, app)
    with capsys.disabled():
        total = sum(mx.counts.values())
        by_scope = {f"{s}/{k}": n for (s, k), n in sorted(mx.counts.items())}
        print(f"\n[authz matrix] {role}: {total} requests {by_scope}")
        if os.environ.get("AUTHZ_MATRIX_SHOW"):
            print("\n".join(a for a in mx.answered if "[G1]" not in a))
    assert total > 100
    assert not mx.failures, f"{len(mx.failures)} failures:\n" + "\n".join(mx.failures[:60])

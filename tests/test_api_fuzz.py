"""Bad input gets a clear error, never a 500 and never a half-written record (promise 4).

Every operation of the generated OpenAPI document is called with bodies, query strings and path
ids built to be wrong from the operation's own schema: each property in turn set to a hostile
value (wrong type, null, out-of-range or oversize number, empty, control-character or oversize
string, malformed date or UUID, nested garbage), bodies that are not a JSON object, not JSON, not
UTF-8 or nested too deep. Each answer must be below 500 and, when it is an error, RFC 9457
``application/problem+json`` whose 422s name the field; a failed request must leave every
table's rows as they were. The sync endpoint's operations are fuzzed through their payloads
too (each op's own answer must not be a server error). Deterministic and bounded: the same few
thousand requests on every run, through Flask's test client.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gridapp.db import db
from tests.conftest import api_login
from tests.sync.conftest import Registry

# Values no schema here accepts everywhere; each replaces one property at a time.
HOSTILE: list[Any] = [
    None,
    True,
    -1,
    -(2**70),
    1.5,
    1e308,
    "",
    "abc",
    "\x00\u202e",
    "x" * 70_000,
    "2026-02-30T25:61:00",
    [],
    [None, {"x": 1}],
    {},
]
# For properties nested inside arrays or objects (fewer: their parents are fuzzed already).
NESTED: list[Any] = [None, "abc", -(2**70), [], {}, "x" * 5000]
# Whole bodies that are not what any JSON operation takes.
RAW_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'"text"', "application/json"),
    (b"12", "application/json"),
    (b'{"a": NaN}', "application/json"),
    (b"\xff\xfe{}", "application/json"),
    (b"[" * 20_000 + b"]" * 20_000, "application/json"),
    (b'{"x": 1}', "text/plain"),
    (b"a=1&b=2", "application/x-www-form-urlencoded"),
]
QUERY_VALUES = ["abc", "-1", "0", "99999999999999999999999", "", "\x00", "1e3", "2026-13-01"]
PATH_IDS = ["0", "-1", "999999999", "99999999999999999999999", "abc", "1.5", "%00"]
# Operations that would end the session the rest of the run needs.
SKIP = {("post", "/api/v1/auth/logout")}
ROLES = ("grid_worker", "supervisor", "admin", "department")
PROBLEM = "application/problem+json"


class World:
    """One record of each kind, made through the API as the users who would make them."""

    def __init__(self, app, org, make_user) -> None:
        app.config["PUSH_ALLOW_LOCAL_HTTP"] = True  # the endpoint below is on 127.0.0.1
        self.users = {
            "grid_worker": make_user("grid_worker", username="fz_worker", grids=[org.grid]),
            "supervisor": make_user("supervisor", username="fz_sup"),
            "admin": make_user("admin", username="fz_admin"),
            "department": make_user("department", username="fz_dept"),
        }
        self.clients = {r: api_login(app.test_client(), u.username) for r, u in self.users.items()}
        reg = Registry()
        building = reg.building(org.grid)
        household = reg.household(building)
        resident = reg.resident(household)
        worker, sup = self.clients["grid_worker"], self.clients["supervisor"]
        matter = self._ok(
            worker.post(
                "/api/v1/matters",
                json={"grid_id": org.grid.id, "text": "楼道灯不亮"},
            )
        )
        task = self._ok(
            sup.post(
                "/api/v1/tasks",
                json={
                    "title": "入户走访",
                    "target": "worker",
                    "worker_id": self.users["grid_worker"].id,
                },
            )
        )
        campaign = self._ok(
            sup.post(
                "/api/v1/tasks",
                json={"title": "防诈宣传", "target": "grids", "grid_ids": [org.grid.id]},
            )
        )
        visit_id = str(uuid.uuid4())
        self._ok(worker.post("/api/v1/visits", json={"id": visit_id, "household_id": household.id}))
        announcement = self._ok(
            sup.post(
                "/api/v1/announcements",
                json={"title": "停水通知", "community_id": org.community.id},
            )
        )
        inbox = self._ok(worker.get("/api/v1/notifications"))
        tags = self._ok(self.clients["admin"].get("/api/v1/care-tags"))
        items = self._ok(self.clients["admin"].get("/api/v1/service-items"))
        self.ids: dict[str, Any] = {
            "household_id": household.id,
            "building_id": building.id,
            "resident_id": resident.id,
            "matter_id": matter["matter"]["id"],
            "task_id": task["task_ids"][0],
            "campaign_id": campaign["campaign_id"],
            "visit_id": visit_id,
            "announcement_id": announcement["id"],
            "notification_id": inbox["items"][0]["id"],
            "tag_id": _first(tags)["id"],
            "item_id": _first(items)["id"],
            "grid_id": org.grid.id,
            "community_id": org.community.id,
            "worker_id": self.users["grid_worker"].id,
            "department_id": org.department.id,
            "photo_id": str(uuid.uuid4()),
            "code": matter["tracking_code"],
            "day": "2026-10-01",
            # A subscription the push routes accept, so each of its fields is reached in turn.
            "endpoint": "http://127.0.0.1:9/push/fuzz",
            "p256dh": _b64(
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            ),
            "auth": _b64(b"0123456789abcdef"),
        }

    @staticmethod
    def _ok(resp) -> Any:
        assert resp.status_code < 300, (resp.status_code, resp.get_json())
        return resp.get_json()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _first(listing: Any) -> dict:
    rows = listing if isinstance(listing, list) else listing.get("items", [])
    return rows[0]


# ---- schema walking ----------------------------------------------------------------------


class Schemas:
    def __init__(self, doc: dict, ids: dict[str, Any]) -> None:
        self.components = doc.get("components", {}).get("schemas", {})
        self.ids = ids

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        if "anyOf" in schema:  # Optional[X]: the non-null branch
            branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
            return self.resolve(branches[0]) if branches else {"type": "null"}
        return schema

    def example(self, schema: dict, name: str = "", depth: int = 0) -> Any:
        """A plausible value (real ids where the name says which), so that each mutation meets
        the code behind the schema rather than only the first missing field."""
        s = self.resolve(schema)
        if "enum" in s:
            return s["enum"][0]
        kind = s.get("type")
        if kind == "object" or "properties" in s:
            if depth > 3:
                return {}
            return {p: self.example(ps, p, depth + 1) for p, ps in s.get("properties", {}).items()}
        if kind == "array":
            if name.endswith("_ids") and name[:-1] in self.ids:
                return [self.ids[name[:-1]]]
            return [self.example(s.get("items", {}), name, depth + 1)] if depth < 3 else []
        if kind == "integer":
            if name == "version" or name == "base_version":
                return 1
            return self.ids.get(name, 1)
        if kind == "number":
            return 1.0
        if kind == "boolean":
            return False
        if kind == "string":
            fmt = s.get("format")
            if fmt == "uuid":
                return str(uuid.uuid4())
            if fmt == "date-time":
                return dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC).isoformat()
            if fmt == "date":
                return "2026-11-02"
            if name in self.ids:
                return str(self.ids[name])
            return "测试"
        return None

    def mutations(self, schema: dict) -> list[tuple[str, Any]]:
        """(field path, body) pairs: the example body with one property made hostile."""
        base = self.example(schema)
        out: list[tuple[str, Any]] = [("", base)]
        if not isinstance(base, dict):
            return out
        s = self.resolve(schema)
        for prop, ps in s.get("properties", {}).items():
            for value in HOSTILE:
                body = copy.deepcopy(base)
                body[prop] = value
                out.append((prop, body))
            body = copy.deepcopy(base)
            del body[prop]
            out.append((prop, body))
            # One level down: into an object property or the first item of an array of them.
            inner = self.resolve(ps)
            target = inner
            if inner.get("type") == "array":
                target = self.resolve(inner.get("items", {}))
            for sub in target.get("properties", {}):
                for value in NESTED:
                    body = copy.deepcopy(base)
                    holder = body[prop]
                    if isinstance(holder, list):
                        if not holder or not isinstance(holder[0], dict):
                            continue
                        holder = holder[0]
                    if not isinstance(holder, dict):
                        continue
                    holder[sub] = value
                    out.append((f"{prop}.{sub}", body))
        return out


# ---- the checks --------------------------------------------------------------------------


_STATE_SQL: dict[str, str] = {}


def table_state() -> tuple:
    """Row count (and the sum of versions, for rows edited offline) of every table, in one
    statement (built once per database: catalogue lookups per request would dominate)."""
    key = str(db.database)
    sql = _STATE_SQL.get(key)
    if sql is None:
        parts = []
        for table in sorted(db.get_tables()):
            if table.startswith("migrate"):
                continue
            parts.append(f'(SELECT COUNT(*) FROM "{table}")')
            if "version" in {c.name for c in db.get_columns(table)}:
                parts.append(f'(SELECT COALESCE(SUM("version"), 0) FROM "{table}")')
        sql = _STATE_SQL[key] = "SELECT " + ", ".join(parts)
    return tuple(db.execute_sql(sql).fetchone())


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.requests = 0

    def check(self, what: str, resp, before: tuple | None = None) -> None:
        self.requests += 1
        status = resp.status_code
        if status >= 500:
            self.failures.append(f"{what}: {status}")
            return
        if status < 400:
            return
        if resp.mimetype != PROBLEM:
            self.failures.append(f"{what}: {status} as {resp.mimetype}, not problem+json")
            return
        body = resp.get_json(silent=True) or {}
        if body.get("status") != status or not body.get("title"):
            self.failures.append(f"{what}: problem without status/title: {body}")
        if status == 422 and not (body.get("field") or body.get("errors")):
            self.failures.append(f"{what}: 422 without the field: {body}")
        if before is not None and table_state() != before:
            self.failures.append(f"{what}: {status} but rows changed")

    def sync_answer(self, what: str, resp) -> None:
        """The sync push answers 200 with a result per op: none may be a server error."""
        self.check(what, resp)
        if resp.status_code != 200:
            return
        for result in resp.get_json().get("results", []):
            problem = result.get("problem") or {}
            if problem.get("status", 0) >= 500 or problem.get("code") == "server_error":
                self.failures.append(f"{what}: op {result.get('op_id')} failed on the server")


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    ops = [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if (method, path) not in SKIP
    ]
    # What deletes goes last, so the records stay for everything else.
    return sorted(ops, key=lambda o: (o[0] == "delete" or "delete" in o[1], o[1], o[0]))


def _fill(path: str, ids: dict[str, Any], override: str | None = None) -> str:
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1 : end]
        value = override if override is not None else ids.get(name, 1)
        out = out[:start] + str(value) + out[end + 1 :]
    return out


def _call(client, method: str, url: str, **kw):
    return client.open(url, method=method.upper(), **kw)


def _authorised(world: World, method: str, path: str, body: Any) -> list[str]:
    """The roles this operation lets in (not 401/403) with the example body."""
    url = _fill(path, world.ids)
    roles = []
    for role in ROLES:
        kw = {"json": body} if body is not None else {}
        resp = _call(world.clients[role], method, url, **kw)
        if resp.status_code not in (401, 403):
            roles.append(role)
    return roles


@pytest.mark.parametrize("half", [0, 1])
def test_no_input_gets_a_server_error_or_a_half_written_record(app, org, make_user, half):
    """Half of the operations per test (each half is its own fresh database)."""
    world = World(app, org, make_user)
    doc = world.clients["admin"].get("/api/v1/openapi.json").get_json()
    schemas = Schemas(doc, world.ids)
    checker = Checker()
    ops = _operations(doc)
    ops = [o for i, o in enumerate(ops) if i % 2 == half]
    anonymous = app.test_client()
    for method, path, op in ops:
        content = (op.get("requestBody") or {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        example = schemas.example(schema) if schema else None
        roles = _authorised(world, method, path, example) or ["admin"]
        client = world.clients[roles[0]]
        if path == "/api/v1/auth/login":
            client = anonymous
        name = f"{method.upper()} {path} as {roles[0]}"

        # Path ids that name nothing, or are not ids at all.
        if "{" in path:
            for bad in PATH_IDS:
                kw = {"json": example} if example is not None else {}
                checker.check(
                    f"{name} [{bad}]", _call(client, method, _fill(path, world.ids, bad), **kw)
                )
        url = _fill(path, world.ids)

        # Query strings: every declared parameter with each hostile value.
        for param in op.get("parameters", []):
            if param["in"] != "query":
                continue
            for value in QUERY_VALUES:
                resp = _call(client, method, url, query_string={param["name"]: value})
                checker.check(f"{name} ?{param['name']}={value!r}", resp)

        if method == "get":
            continue
        if path == "/api/v1/sync" and method == "post":
            _fuzz_sync_ops(client, checker, schemas, name)
        # Bodies: not JSON objects at all, then the schema's own body with one field wrong.
        for raw, ctype in RAW_BODIES:
            before = table_state()
            resp = _call(client, method, url, data=raw, content_type=ctype)
            checker.check(f"{name} body {raw[:20]!r} as {ctype}", resp, before)
        if schema is None:
            continue
        for field, body in schemas.mutations(schema):
            before = table_state()
            resp = _call(client, method, url, json=body)
            top = field.split(".")[0]
            shown = json.dumps(body.get(top) if isinstance(body, dict) else body)[:60]
            checker.check(f"{name} {field}={shown}", resp, before)
    assert checker.requests > 500
    assert not checker.failures, "\n".join(checker.failures[:40])


def _op_schemas(schemas: Schemas) -> dict[str, tuple[dict, dict[str, Any]]]:
    """Each sync op type's payload model (not in the OpenAPI document: an op's payload is free
    form there) as a JSON schema, with the ids its example should name."""
    from gridapp.sync import entities, features

    ids = schemas.ids
    models = {
        "visit.create": (features.VisitIn, {"id": str(uuid.uuid4())}),
        "household.update": (entities.HouseholdUpdate, {"id": ids["household_id"]}),
        "resident.update": (entities.ResidentUpdate, {"id": ids["resident_id"]}),
        "resident.create": (entities.ResidentCreate, {"household": ids["household_id"]}),
        "task.transition": (features.TaskTransition, {"id": ids["task_id"]}),
        "matter.report": (features.MatterReport, {}),
        "notification.read": (entities.NotificationRead, {"id": ids["notification_id"]}),
    }
    out = {}
    for kind, (model, overlay) in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.components.update(schema.pop("$defs", {}))
        out[kind] = (schema, overlay)
    return out


def _fuzz_sync_ops(client, checker: Checker, schemas: Schemas, name: str) -> None:
    """Every op type with each payload field made hostile, 150 ops per push; then ops whose
    envelope is wrong, each in a push of its own (the push refuses them as a whole)."""
    op_schemas = _op_schemas(schemas)
    ops = []
    for kind, (schema, overlay) in op_schemas.items():
        bodies = Schemas(
            {"components": {"schemas": schemas.components}}, {**schemas.ids, **overlay}
        )
        for _field, payload in bodies.mutations(schema):
            ops.append(
                {
                    "op_id": f"fz-{uuid.uuid4().hex}",
                    "type": kind,
                    "payload": payload,
                    "base_version": 1,
                }
            )
    for start in range(0, len(ops), 150):
        chunk = ops[start : start + 150]
        checker.sync_answer(
            f"{name} ops {start}…", client.post("/api/v1/sync", json={"ops": chunk})
        )
    for kind in op_schemas:
        for bad in ({"payload": "x"}, {"payload": [1], "base_version": "x"}):
            op = {"op_id": f"fz-{uuid.uuid4().hex}", "type": kind, **bad}
            checker.sync_answer(
                f"{name} {kind} {bad}", client.post("/api/v1/sync", json={"ops": [op]})
            )


def test_nul_is_refused_in_paths_queries_and_page_forms(app, org, make_user, login_as):
    """PostgreSQL text cannot hold U+0000: it is refused before any view, on pages too."""
    client = login_as(make_user("supervisor"))
    resp = client.get("/api/v1/residents?q=a%00b")
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert resp.get_json()["field"] == "query.q"
    resp = client.get("/api/v1/track/ab%00cd")
    assert resp.status_code == 422 and resp.get_json()["field"] == "path"
    page = client.post("/console/announcements", data={"title": "停水\x00通知"})
    assert page.status_code == 422 and "控制字符" in page.get_data(as_text=True)
    body = client.post("/api/v1/announcements", json={"title": "x", "body": {"a": ["\x00"]}})
    assert body.status_code == 422 and body.get_json()["field"] == "body.a.0"


def test_ids_beyond_any_column_name_nothing(app, org, make_user, login_as):
    client = login_as(make_user("supervisor"))
    assert client.get("/api/v1/matters/2147483648").status_code == 404
    assert client.get("/api/v1/matters/2147483647").status_code == 404
    resp = client.get("/api/v1/matters?offset=2147483648")
    assert resp.status_code == 422 and resp.get_json()["field"] == "query.offset"
    resp = client.post("/api/v1/tasks", json={"title": "t", "target": "worker", "worker_id": 2**31})
    assert resp.status_code == 422 and resp.get_json()["field"] == "worker_id"

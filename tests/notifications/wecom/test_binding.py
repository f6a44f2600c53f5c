"""Admins bind users to their 企业微信 userid: on the user's edit page and by importing a sheet
with 用户名 and 企业微信账号 columns. Bad values get clear errors and change nothing; every change
is in the audit log."""

from __future__ import annotations

import io

from openpyxl import Workbook

from gridapp.audit import AuditLog
from gridapp.notifications.wecom.models import WecomBinding


def _form(client, user_id: int, value: str):
    return client.post(f"/console/admin/users/{user_id}/wecom", data={"wecom_userid": value})


def test_admin_sets_changes_and_clears_a_binding(app, make_user, login_as, fake_wecom):
    admin = make_user("admin")
    worker = make_user("grid_worker")
    client = login_as(admin)
    page = client.get(f"/console/admin/users/{worker.id}").get_data(as_text=True)
    assert 'id="wecom-form"' in page
    assert _form(client, worker.id, " zhangsan ").status_code == 302
    b = WecomBinding.get(WecomBinding.user == worker.id)
    assert (b.userid, b.via, b.bound_by_id, b.corp_id) == ("zhangsan", "admin", admin.id,
                                                         fake_wecom.corp_id)  # fmt: skip
    page = client.get(f"/console/admin/users/{worker.id}").get_data(as_text=True)
    assert 'value="zhangsan"' in page
    assert _form(client, worker.id, "lisi").status_code == 302
    assert WecomBinding.get(WecomBinding.user == worker.id).userid == "lisi"
    assert _form(client, worker.id, "").status_code == 302
    assert not WecomBinding.select().exists()
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.id)]
    assert actions.count("wecom.bind") == 2 and actions.count("wecom.unbind") == 1


def test_bad_values_are_refused_with_the_field_named(app, make_user, login_as, bind):
    admin = make_user("admin")
    a, b = make_user("grid_worker"), make_user("grid_worker")
    bind(a, "zhangsan")
    client = login_as(admin)
    resp = _form(client, b.id, "张三 x")
    assert resp.status_code == 422
    assert "企业微信账号（userid）为 1 至 64 位" in resp.get_data(as_text=True)
    resp = _form(client, b.id, "ZhangSan")  # the API compares userids without case
    assert resp.status_code == 422 and "已绑定其他用户" in resp.get_data(as_text=True)
    assert not WecomBinding.select().where(WecomBinding.user == b.id).exists()
    assert _form(client, b.id, "x" * 65).status_code == 422


def test_only_admins(app, make_user, login_as):
    sup = make_user("supervisor")
    worker = make_user("grid_worker")
    assert _form(login_as(sup), worker.id, "zhangsan").status_code == 403
    assert login_as(sup).get("/console/admin/wecom").status_code == 403


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["东城水岸社区 网格员企业微信账号"])  # a title row above the header
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _import(client, data: bytes, name: str = "accounts.xlsx"):
    return client.post("/console/admin/wecom/import",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")  # fmt: skip


def test_import_binds_moves_and_clears(app, make_user, login_as, bind):
    admin = make_user("admin")
    w1 = make_user("grid_worker", username="w1")
    w2 = make_user("grid_worker", username="w2")
    w3 = make_user("grid_worker", username="w3")
    bind(w1, "zhangsan")
    bind(w3, "wangwu")
    client = login_as(admin)
    data = _xlsx([["序号", "用户名", "姓名", "企业微信账号"],
                  [1, "w1", "甲", "lisi"],
                  [2, "w2", "乙", "zhangsan"],  # w1's old account moves to w2 in the same file
                  [3, "w3", "丙", None]])  # fmt: skip
    resp = _import(client, data)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert 'id="wecom-import-result"' in resp.get_data(as_text=True)
    got = {b.user_id: b.userid for b in WecomBinding.select()}
    assert got == {w1.id: "lisi", w2.id: "zhangsan"}
    assert AuditLog.select().where(AuditLog.action == "import.wecom").count() == 1
    assert AuditLog.select().where(AuditLog.action == "wecom.unbind").count() == 1


def test_import_with_bad_rows_changes_nothing(app, make_user, login_as, bind):
    admin = make_user("admin")
    make_user("grid_worker", username="w1")
    w2 = make_user("grid_worker", username="w2")
    make_user("grid_worker", username="w3")
    other = make_user("grid_worker", username="w4")
    bind(other, "taken")
    client = login_as(admin)
    csv = ("用户名,企业微信账号\n"
           "w1,lisi\n"
           "nobody,zhaoliu\n"
           "w2,bad id!\n"
           "w3,lisi\n"
           "w2,taken\n").encode()  # fmt: skip
    resp = _import(client, csv, "accounts.csv")
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "第 3 行“用户名”列：没有这个用户。" in text
    assert "第 4 行“企业微信账号”列：不是有效的企业微信账号（userid）。" in text
    assert "第 5 行“企业微信账号”列：同一企业微信账号已在第 2 行出现。" in text
    assert "第 6 行“用户名”列：同一用户已在第 4 行出现。" in text
    assert {b.user_id for b in WecomBinding.select()} == {other.id}
    assert not WecomBinding.select().where(WecomBinding.user == w2.id).exists()


def test_import_refuses_an_account_bound_elsewhere(app, make_user, login_as, bind):
    admin = make_user("admin")
    make_user("grid_worker", username="w1")
    bind(make_user("grid_worker", username="w9"), "zhangsan")
    resp = _import(login_as(admin), "用户名,企业微信账号\nw1,zhangsan\n".encode(), "a.csv")
    assert resp.status_code == 422 and "已绑定其他用户" in resp.get_data(as_text=True)


def test_import_without_the_columns(app, make_user, login_as):
    admin = make_user("admin")
    resp = _import(login_as(admin), "姓名,电话\n张三,13800000000\n".encode(), "a.csv")
    assert resp.status_code == 422
    assert "企业微信账号" in resp.get_data(as_text=True)


def test_overview_lists_disabled_bindings_first(app, make_user, login_as, bind):
    from gridapp.notifications.wecom.binding import disable_gone

    admin = make_user("admin")
    a, b = make_user("grid_worker", username="aa"), make_user("grid_worker", username="bb")
    bind(a, "zhangsan")
    bind(b, "gone1")
    disable_gone(WecomBinding.get(WecomBinding.user == b.id).corp_id, ["gone1"], "invaliduser")
    page = login_as(admin).get("/console/admin/wecom").get_data(as_text=True)
    assert page.index("gone1") < page.index("zhangsan")
    assert "invaliduser" in page
    page = login_as(admin).get(f"/console/admin/users/{b.id}").get_data(as_text=True)
    assert 'id="wecom-disabled"' in page

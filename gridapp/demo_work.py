"""The demo's tasks (every state, and a community campaign under way) and announcements (read
and unread), through ``assign_task`` / ``transition_task`` / ``announce`` + ``fanout``.
Times come afterwards from ``demo_clock``; ``assign_task`` refuses a due time in the past, so
tasks are assigned with a placeholder due time and get their story's one in ``task_times``."""

from __future__ import annotations

import datetime as dt
import random

from gridapp.demo_clock import Clock
from gridapp.demo_matters import Cast
from gridapp.notifications.announcements import announce, fanout
from gridapp.org.models import Community, Grid
from gridapp.registry.models import Household
from gridapp.scope import scope_for
from gridapp.tasks.models import Task
from gridapp.tasks.service import assign_task, transition_task

TASKS = [
    ("核查消防通道堆物", "检查本网格各楼栋消防通道，发现堆物拍照留存并督促清理。"),
    ("独居老人冬季安全检查", "逐户查看独居老人家中取暖和燃气使用情况。"),
    ("更新出租房屋登记", "核对本网格出租房屋及租户信息，补全缺失的联系方式。"),
    ("入户宣传医保缴费", "提醒未缴费居民在截止日前完成城乡居民医保缴费。"),
    ("排查楼道电动车充电", "排查楼道内电动车违规充电情况，拍照留存并劝导整改。"),
    ("走访新迁入住户", "对新迁入住户进行首次走访，登记家庭成员和关爱需求。"),
]
DONE_NOTES = ["已全部完成，发现的问题已当场整改。", "已完成，照片已上传。", "已逐户核实完毕。"]
RETURN_REASON = "本周在外参加培训，无法按时完成，请改派。"
CAMPAIGN = (
    "入户宣传防诈骗",
    "向每户居民发放防诈骗宣传册，讲解常见电信诈骗手法，并登记已宣传户数。",
)
# (state a task ends in, days since it was assigned, days it had until due)
TASK_PLAN = [
    ("verified", 20, 7),
    ("done", 5, 7),
    ("in_progress", 3, 5),
    ("accepted", 1.5, 4),
    ("assigned", 0.2, 3),
]
PATHS = {
    "assigned": [],
    "accepted": ["accept"],
    "in_progress": ["accept", "start"],
    "done": ["accept", "start", "done"],
    "verified": ["accept", "start", "done", "verify"],
    "returned": ["return"],
}


def seed_tasks(rng: random.Random, now: dt.datetime, clock: Clock) -> dict[int, dt.datetime]:
    """Tasks for every worker plus a campaign per community; returns task id → due time."""
    cast = Cast()
    due: dict[int, dt.datetime] = {}
    placeholder = now + dt.timedelta(days=1)
    for grid in Grid.select().order_by(Grid.id):
        worker, sup = cast.worker[grid.id], cast.sup[grid.community_id]
        plan = list(TASK_PLAN)
        if grid.sort == 2:
            plan.append(("returned", 2, 6))
        if grid.sort == 3:
            plan.append(("in_progress", 6, 4))  # overdue: due two days ago, still open
        for k, (state, age, span) in enumerate(plan):
            title, text = TASKS[(grid.sort + k) % len(TASKS)]  # no title twice on one list
            start = now - dt.timedelta(days=age, hours=rng.uniform(0, 3))
            household = None
            if "走访" in title:
                household = (
                    Household.select(Household.id).where(Household.grid == grid.id).first().id
                )
            with clock.at(start):
                tid = assign_task(
                    sup, title=title, description=text, target="worker", worker_id=worker.id,
                    due_at=placeholder, priority=rng.choice([0, 0, 1]), household_id=household,
                ).task_ids[0]  # fmt: skip
            due[tid] = start + dt.timedelta(days=span)
            _walk(rng, clock, tid, PATHS[state], start, now, worker, sup)
    for community in Community.select().order_by(Community.id):
        sup = cast.sup[community.id]
        start = now - dt.timedelta(days=6, hours=2)
        with clock.at(start):
            result = assign_task(
                sup, title=CAMPAIGN[0], description=CAMPAIGN[1], target="community",
                community_id=community.id, due_at=placeholder, priority=1,
            )  # fmt: skip
        for tid in result.task_ids:
            due[tid] = start + dt.timedelta(days=14)
            task = Task.get_by_id(tid)
            state = rng.choices(
                ["assigned", "accepted", "in_progress", "done", "verified"], [1, 2, 3, 3, 2]
            )[0]
            _walk(rng, clock, tid, PATHS[state], start, now, cast.worker[task.grid_id], sup)
    return due


def _walk(rng, clock, tid, actions, start, now, worker, sup) -> None:
    when = start
    for action in actions:
        room = (now - when).total_seconds() / 3600
        when = when + dt.timedelta(hours=rng.uniform(0.1, 0.45) * room)
        task = Task.get_by_id(tid)
        actor = sup if action == "verify" else worker
        extra = {}
        if action == "done":
            extra["note"] = rng.choice(DONE_NOTES)
        if action == "return":
            extra["reason"] = RETURN_REASON
        with clock.at(when):
            transition_task(actor, tid, action, version=task.version, **extra)


ANNOUNCEMENTS = [
    (
        30,
        "关于开展冬季消防安全检查的通知",
        "请各网格于本月底前完成辖区楼栋消防设施检查，发现隐患及时上报。",
    ),
    (9, "社区义诊活动安排", "本周六上午9:00在社区服务中心开展义诊，请通知辖区高龄、独居老人。"),
    (0.8, "明日上午计划停水", "因管网检修，明天8:00-12:00部分楼栋停水，请提醒住户提前储水。"),
]


def seed_announcements(rng: random.Random, now: dt.datetime, clock: Clock) -> list[int]:
    """Three announcements per community, fanned out now (the job would do it after commit)."""
    cast = Cast()
    ids = []
    for community in Community.select().order_by(Community.id):
        sup = cast.sup[community.id]
        for age, title, body in ANNOUNCEMENTS:
            with clock.at(now - dt.timedelta(days=age)):
                a = announce(sup, scope_for(sup), title, body, community_id=community.id)
                fanout(a.id)
            ids.append(a.id)
    return ids

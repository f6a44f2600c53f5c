"""The demo's matters (四事分办): every category and state, each told through the real verbs
(``report_matter`` / the echo wall's ``submit_need``, then ``transition_matter`` and the
resident's ``rate_matter_by_code``), so its timeline, change log and inbox are the app's own.
Times come afterwards from ``demo_clock``.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid
from dataclasses import dataclass

from gridapp.demo_clock import Clock
from gridapp.demo_visits import work_time
from gridapp.echowall.service import submit_need
from gridapp.matters.models import Matter
from gridapp.matters.service import rate_matter_by_code, report_matter, transition_matter
from gridapp.org.models import Department, Grid, User, UserGrid
from gridapp.photos.service import store_photo


@dataclass(frozen=True)
class Story:
    category: str
    departments: tuple[str, ...]  # department codes (专事: one; 难事: several)
    title: str
    text: str
    result: str
    photo: tuple[int, int, int] | None = None  # a colour for a generated photo


STORIES = [
    Story(
        "个事",
        (),
        "申请开具居住证明",
        "住户需要开具居住证明用于孩子入学，行动不便，请网格员帮忙代办。",
        "已代为向社区服务站申请，居住证明已送到住户家中。",
    ),
    Story(
        "个事",
        (),
        "咨询高龄津贴申领",
        "老人今年满80周岁，想了解高龄津贴怎么申请、需要带什么材料。",
        "已告知所需材料并协助在线提交申请，预计下月发放。",
    ),
    Story(
        "个事",
        (),
        "医保卡丢失需要补办",
        "独居老人医保卡丢失，不会使用手机办理补卡。",
        "已陪同老人到街道便民服务中心补办，新卡已领取。",
    ),
    Story(
        "个事",
        (),
        "邻里因漏水产生纠纷",
        "楼上卫生间漏水到楼下，两户因维修费用发生争执。",
        "已组织两户协商，楼上住户同意承担维修费用，矛盾化解。",
    ),
    Story(
        "社事",
        (),
        "楼下垃圾堆放多日无人清理",
        "8栋楼下垃圾桶旁边堆了好几天的装修垃圾，气味很大。",
        "已联系保洁公司清运，并在楼道张贴装修垃圾投放提示。",
        (150, 120, 90),
    ),
    Story(
        "社事",
        (),
        "遛狗不牵绳",
        "小区中心花园经常有人遛狗不牵绳，孩子们很害怕。",
        "已在花园入口设置文明养犬提示牌，并对相关住户进行了劝导。",
    ),
    Story(
        "社事",
        (),
        "地下车库照明灯损坏",
        "地下车库B区有三盏灯不亮，晚上停车很不安全。",
        "物业已更换损坏灯管，车库照明恢复。",
        (60, 60, 70),
    ),
    Story(
        "社事",
        (),
        "楼道堆放杂物影响通行",
        "5栋2单元楼道堆满纸箱和旧家具，影响消防通道。",
        "已通知住户限期清理，现已清理完毕。",
        (120, 100, 80),
    ),
    Story(
        "专事",
        ("water",),
        "自来水水压偏低",
        "6栋高层住户反映近一周早晚用水高峰水压很低，热水器打不着火。",
        "水务公司已检修二次供水泵房加压设备，水压恢复正常。",
    ),
    Story(
        "专事",
        ("water",),
        "小区主水管漏水",
        "3栋东侧绿化带地面一直冒水，疑似地下水管破裂。",
        "水务公司已开挖更换破损管段，路面已恢复。",
        (90, 110, 140),
    ),
    Story(
        "专事",
        ("power",),
        "单元楼突然停电",
        "11栋1单元整个单元停电两个多小时，电梯也停了。",
        "供电公司已更换烧毁的单元配电开关，供电恢复。",
    ),
    Story(
        "专事",
        ("gas",),
        "楼道里有燃气味",
        "2栋3单元四楼楼道闻到明显燃气味，住户很担心。",
        "燃气公司已上门检测，更换老化的表前阀，无泄漏。",
    ),
    Story(
        "专事",
        ("urban",),
        "小区门口占道经营",
        "东门外每天傍晚有流动摊贩占道，行人只能走机动车道。",
        "城管已对占道摊贩进行劝导，引导至便民市场经营。",
        (170, 150, 110),
    ),
    Story(
        "专事",
        ("police",),
        "夜间有人在楼下喧哗",
        "最近几晚凌晨总有人在12栋楼下喝酒喧哗，影响休息。",
        "派出所已加强夜间巡逻，并对相关人员进行了批评教育。",
    ),
    Story(
        "专事",
        ("market",),
        "楼下餐馆油烟扰民",
        "临街餐馆油烟直排，二楼住户窗户都不能开。",
        "市场监管所已责令餐馆加装油烟净化设备并复查合格。",
    ),
    Story(
        "专事",
        ("property",),
        "电梯频繁停运",
        "9栋电梯一周内停运三次，有老人被困过一次。",
        "物业已联系维保单位更换电梯控制板，并增加巡检频次。",
        (140, 140, 150),
    ),
    Story(
        "难事",
        ("water", "urban"),
        "雨后道路积水严重",
        "小区南侧道路每逢下雨就积水没过脚踝，涉及市政排水和路面。",
        "水务与城管联合疏通雨水管网并抬高路面，积水问题已解决。",
        (100, 120, 130),
    ),
    Story(
        "难事",
        ("property", "urban"),
        "老旧楼栋加装电梯协调",
        "4栋居民希望加装电梯，低层住户有顾虑，需多方协调。",
        "街道牵头召开协调会，达成加装方案，已进入审批阶段。",
    ),
]
RESIDENT_PHONES = ["13812345678", "13987654321", "15011112222", "18622223333", "0571-88886666"]
RETURN_REASONS = ["该问题不属于本部门职责范围，请重新分拨。", "经现场核实，应由物业负责处理。"]
REJECT_REASONS = ["回访住户反映问题仍未完全解决，请继续处理。"]
PROGRESS_NOTES = ["已到现场查看，正在制定维修方案。", "材料已订购，预计两天内施工。"]
RATING_NOTES = {
    "满意": "处理很及时，谢谢！",
    "基本满意": "解决了，就是时间长了点。",
    "不满意": "问题还没有彻底解决。",
}


class Cast:
    """Who acts in the stories: supervisors per community, workers per grid, handlers per
    department (by code)."""

    def __init__(self) -> None:
        self.sup = {
            u.community_id: u
            for u in User.select().where(User.role == "supervisor", User.community.is_null(False))
        }
        self.worker: dict[int, User] = {}
        for ug in (
            UserGrid.select(UserGrid, User)
            .join(User)
            .where(User.role == "grid_worker")
            .order_by(User.id)
        ):
            self.worker.setdefault(ug.grid_id, ug.user)
        self.dept = {d.code: d for d in Department.select()}
        self.handler = {u.department_id: u for u in User.select().where(User.role == "department")}


def _photo(rng: random.Random, colour: tuple[int, int, int]) -> bytes:
    """A small JPEG standing in for a phone photo (a coloured scene with a few shapes)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randint(0, 560), rng.randint(0, 400)
        shade = tuple(max(0, min(255, c + rng.randint(-60, 60))) for c in colour)
        draw.rectangle((x, y, x + rng.randint(40, 200), y + rng.randint(30, 120)), fill=shade)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70)
    return out.getvalue()


CATEGORIES = ("个事", "社事", "专事", "难事")
# Which end state a matter reaches, by its age in days: (max age, [(state, weight)]).
TARGETS = [
    (0.6, [("reported", 6), ("triaged", 1), ("dispatched", 2)]),
    (4, [("dispatched", 2), ("in_progress", 4), ("resolved", 2), ("verified", 1), ("returned", 1)]),
    (14, [("in_progress", 2), ("resolved", 1), ("closed", 7), ("escalated", 1), ("reopened", 0.3)]),
    (999, [("closed", 30), ("closed_again", 1)]),
]


# The first matter of each grid in turn: every state (and, with the stories, every category)
# appears however the dice fall. (state, (min age, max age) in days)
FORCED = [
    ("reported", (0.05, 0.4)),
    ("returned", (1, 3)),
    ("escalated", (5, 10)),
    ("reopened", (6, 12)),
    ("triaged", (0.1, 0.5)),
    ("dispatched", (0.5, 2)),
    ("in_progress", (1, 3)),
    ("resolved", (2, 4)),
    ("verified", (2, 4)),
    ("closed_again", (30, 60)),
    ("reported", (0.05, 0.4)),
]


def _target(rng: random.Random, age: float) -> str:
    for limit, choices in TARGETS:
        if age <= limit:
            states, weights = zip(*choices, strict=True)
            return rng.choices(states, weights)[0]
    raise AssertionError("unreachable")


def seed_matters(
    rng: random.Random, now: dt.datetime, clock: Clock, per_grid: tuple[int, int]
) -> int:
    """A few matters per grid over the last months; returns how many."""
    cast = Cast()
    count = 0
    for i, grid in enumerate(Grid.select().order_by(Grid.id)):
        plan = []
        if i < len(FORCED):
            target, (lo, hi) = FORCED[i]
            plan.append((rng.uniform(lo, hi), target))
        # the others spread back over about 100 days, and in some grids one from this morning
        n = rng.randint(*per_grid) - len(plan)
        ages = [rng.uniform(0.05, 100) for _ in range(n)]
        if rng.random() < 0.4:
            ages.append(rng.uniform(0.05, 0.5))
        plan += [(age, _target(rng, age)) for age in ages]
        for j, (age, target) in enumerate(sorted(plan)):
            # every category among each grid's matters, the rest at random
            cat = CATEGORIES[(i + j) % len(CATEGORIES)] if j < len(CATEGORIES) else None
            story = rng.choice([s for s in STORIES if cat in (None, s.category)])
            if target == "escalated" and story.category == "难事":
                story = rng.choice([s for s in STORIES if s.category == "社事"])
            _tell(rng, now, clock, cast, grid, story, target, age)
            count += 1
    return count


def _tell(rng, now, clock, cast: Cast, grid: Grid, story: Story, target: str, age: float) -> None:
    steps = _steps(rng, now, story, target, grid, cast)
    source = rng.choices(["resident", "worker", "supervisor"], [5, 4, 1])[0]
    # Residents write from morning to late evening, staff report in working hours.
    start = work_time(rng, now, age, (7, 22) if source == "resident" else (8.5, 17.5))
    # Spread the steps between the report and (at the latest) a minute ago.
    gaps = [rng.uniform(*g) for *_x, g in steps]
    room = (now - dt.timedelta(minutes=1) - start).total_seconds() / 3600
    scale = min(1.0, room / sum(gaps)) if gaps and sum(gaps) > 0 else 1.0
    worker = cast.worker[grid.id]
    sup = cast.sup[grid.community_id]
    with clock.at(start):
        photo = None
        if story.photo and rng.random() < 0.7:
            photo = _photo(rng, story.photo)
        if source == "resident":
            matter = submit_need(grid, story.text, rng.choice(RESIDENT_PHONES), photo)
        else:
            who = worker if source == "worker" else sup
            ids = []
            if photo is not None:
                pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                store_photo(who, pid, photo)
                ids = [pid]
            matter = report_matter(
                who, source=source, grid_id=grid.id, text=story.text, title=story.title,
                photo_ids=ids,
                contact_phone=rng.choice(RESIDENT_PHONES) if source == "supervisor" else "",
                # the worker's guess from the field, usually right
                suggested_category=story.category
                if source == "worker" and rng.random() < 0.8 else None,
            )  # fmt: skip
    # The resident's rating key, which their browser keeps from the report page.
    key = getattr(matter, "issued_rating_key", None) or ""
    when = start
    for (action, actor, kwargs, _gap), gap in zip(steps, gaps, strict=True):
        when = when + dt.timedelta(hours=gap * scale)
        m = Matter.get_by_id(matter.id)
        with clock.at(when):
            if action == "rate" and m.source == "resident":
                rate_matter_by_code(m.code, kwargs["rating"], kwargs.get("note", ""), key=key)
                continue
            if actor == "reporter":
                actor = User.get_by_id(m.reporter_id)
            transition_matter(actor, m.id, action, version=m.version, **kwargs)


def _steps(rng, now, story: Story, target: str, grid: Grid, cast: Cast) -> list[tuple]:
    """(action, actor, fields, (min, max) hours after the previous step) up to ``target``."""
    sup = cast.sup[grid.community_id]
    cat = story.category
    deps = [cast.dept[c].id for c in story.departments]
    handlers = [cast.handler[d] for d in deps] or (
        [cast.worker[grid.id]] if cat == "个事" else [sup]
    )
    steps: list[tuple] = []
    if target == "reported":
        return steps
    steps.append(("triage", sup, {"category": cat}, (0.3, 3)))
    if target == "triaged":
        return steps
    if target == "returned":
        wrong = cast.dept["urban" if "urban" not in story.departments else "market"]
        steps[-1] = ("triage", sup, {"category": "专事"}, (0.3, 3))
        steps.append(("dispatch", sup, {"department_ids": [wrong.id]}, (0.05, 0.3)))
        steps.append(
            ("return", cast.handler[wrong.id], {"reason": rng.choice(RETURN_REASONS)}, (2, 20))
        )
        return steps
    if target == "dispatched" and rng.random() < 0.5:
        # a deadline day chosen by hand (the dispatch event keeps the rule's for the record)
        day = (now + dt.timedelta(hours=8)).date() + dt.timedelta(days=rng.randint(3, 6))
        steps.append(("dispatch", sup, {"department_ids": deps, "deadline": day}, (0.05, 0.3)))
        return steps
    steps.append(("dispatch", sup, {"department_ids": deps}, (0.05, 0.3)))
    if target == "dispatched":
        return steps
    if target == "escalated":
        if rng.random() < 0.5:  # the deadline job's 超时升级 (the system, no person)
            reason = "超过办理时限未办结，自动升级。"
            steps.append(("escalate", None, {"reason": reason}, (120, 200)))
        else:
            reason = "涉及多个部门，社区层面难以解决，提请街道协调。"
            steps.append(("escalate", sup, {"reason": reason}, (20, 60)))
        return steps
    for h in handlers:
        steps.append(("accept", h, {}, (1, 18)))
    if cat == "难事" or rng.random() < 0.3:
        steps.append(("progress", handlers[0], {"note": rng.choice(PROGRESS_NOTES)}, (10, 40)))
    if target == "in_progress":
        return steps
    for h in handlers:
        steps.append(("resolve", h, {"result": story.result}, (8, 60)))
    if target == "resolved":
        return steps
    if rng.random() < 0.12:
        steps.append(("reject", sup, {"reason": rng.choice(REJECT_REASONS)}, (3, 20)))
        for h in handlers:
            steps.append(("resolve", h, {"result": story.result}, (8, 30)))
    steps.append(("verify", sup, {"note": "已电话回访，情况属实。"}, (2, 24)))
    if target == "verified":
        return steps
    steps.append(("close", sup, {}, (0.05, 2)))
    if target == "reopened":
        steps.append(
            ("rate", "reporter", {"rating": "不满意", "note": RATING_NOTES["不满意"]}, (2, 40))
        )
        return steps
    if target == "closed_again":
        steps.append(
            ("rate", "reporter", {"rating": "不满意", "note": RATING_NOTES["不满意"]}, (2, 40))
        )
        steps.append(("triage", sup, {"category": cat}, (1, 6)))
        steps.append(("dispatch", sup, {"department_ids": deps}, (0.05, 0.3)))
        for h in handlers:
            steps.append(("accept", h, {}, (1, 10)))
        for h in handlers:
            steps.append(("resolve", h, {"result": story.result + "（已返工）"}, (8, 40)))
        steps.append(("verify", sup, {}, (2, 20)))
        steps.append(("close", sup, {}, (0.05, 2)))
        return steps  # a matter is rated once: its 不满意 stands
    if rng.random() < 0.8:
        rating = rng.choices(["满意", "基本满意"], [85, 15])[0]
        steps.append(
            ("rate", "reporter", {"rating": rating, "note": RATING_NOTES[rating]}, (1, 48))
        )
    return steps

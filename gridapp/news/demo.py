"""Demo news (deterministic): per community a pinned notice, ordinary news, a policy notice, an
expired item and one scheduled for tomorrow, written through ``create_item`` by the community's
supervisor, times relative to the demo's ``now``; plus a few reads (hashes only)."""

from __future__ import annotations

import datetime as dt

from gridapp.news import reads
from gridapp.news.models import NewsItem
from gridapp.news.service import create_item
from gridapp.org.models import Community, User
from gridapp.scope import scope_for
from gridapp.times import local_today

# (title, body, kind, hours from now to publish, hours to expiry or None, pinned)
ITEMS = [
    ("冬季消防安全提示",
     "天气转冷，用火用电增多。请大家注意：\n\n- **不要**在楼道、电梯间停放电动车或给电动车充电\n"
     "- 不乱拉电线，离家关闭电源\n- 家中备好灭火器，熟悉逃生路线\n\n发现火情请立即拨打 119。",
     "news", -72, None, True),
    ("周六上午社区义诊",
     "本周六 9:00–11:30 在社区卫生服务站开展义诊：免费测量血压、血糖，提供用药咨询。\n\n"
     "行动不便的老人可联系本网格网格员预约上门。", "news", -30, 24 * 7, False),
    ("老年人优待证申领政策解读",
     "年满 60 周岁的本市户籍老年人可申领老年人优待证，凭证享受公交、景点等优待。\n\n"
     "申领材料：\n- 身份证原件\n- 一寸近期免冠照片一张\n\n"
     "可到社区党群服务中心办理，或登录 https://www.gov.cn/ 查看详细政策。", "policy", -48, None, False),
    ("国庆期间垃圾清运时间调整",
     "国庆假期期间，小区生活垃圾清运时间调整为每天 7:00 和 19:00。", "news", -24 * 60,
     -24 * 50, False),
    ("下周一起开展燃气安全入户检查",
     "下周一至周五，燃气公司工作人员将入户检查燃气管道和灶具，请家中留人配合。\n\n"
     "检查人员均佩戴工作证，不收取任何费用，谨防假冒。", "news", 20, 24 * 14, False),
]  # fmt: skip


def seed_news(now: dt.datetime) -> int:
    """Write the demo items for every community that has none yet; returns how many."""
    written = 0
    for community in Community.select().order_by(Community.id):
        if NewsItem.select().where(NewsItem.community == community.id).exists():
            continue
        author = (
            User.select()
            .where(User.role == "supervisor", User.community == community.id)
            .order_by(User.id)
            .first()
        )
        if author is None:
            continue
        scope = scope_for(author)
        for title, body, kind, publish_h, expires_h, pinned in ITEMS:
            item = create_item(
                author,
                scope,
                {
                    "community_id": community.id,
                    "title": title,
                    "body": body,
                    "kind": kind,
                    "publish_at": now + dt.timedelta(hours=publish_h),
                    "expires_at": None
                    if expires_h is None
                    else now + dt.timedelta(hours=expires_h),
                    "pinned": pinned,
                },
            )
            written += 1
            # a few reads of the current items (hashes of made-up visitors: no personal data)
            if publish_h < 0 and (expires_h is None or expires_h > 0):
                for v in range(3 + len(title) % 5):
                    reads.count_read(item.id, local_today(), "web", f"demo-{v}")
    return written

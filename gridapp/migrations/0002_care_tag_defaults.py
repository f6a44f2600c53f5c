"""Default care tags (关爱标签) and their visit intervals (DESIGN section 3); admins edit them later."""

from peewee import *

DEFAULTS = [
    ("elderly_alone", "独居老人", 7, 10),
    ("advanced_age", "高龄", 30, 20),
    ("disabled", "残疾", 30, 30),
    ("low_income", "低保", 30, 40),
    ("community_correction", "社区矫正", 30, 50),
    ("left_behind_child", "留守儿童", 30, 60),
    ("key_concern", "重点关注", 30, 70),
    ("veteran", "退役军人", 180, 80),
]


def up(migrator, db):
    class CareTag(Model):
        code = CharField(unique=True, max_length=40)
        name = CharField(unique=True, max_length=40)
        interval_days = IntegerField()
        sort = IntegerField(default=0)
        is_active = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "care_tag"

    existing = {c for (c,) in CareTag.select(CareTag.code).tuples()}
    rows = [
        {"code": c, "name": n, "interval_days": d, "sort": s, "is_active": True}
        for c, n, d, s in DEFAULTS
        if c not in existing
    ]
    if rows:
        CareTag.insert_many(rows).execute()

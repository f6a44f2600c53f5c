"""The worker's app mirrors the community's published news through the sync pull: a scheduled
item arrives when it is released, an edit arrives, a withdrawal is a tombstone; other
communities' items never reach the phone."""

from __future__ import annotations

import datetime as dt

from tests.news.conftest import publish
from tests.sync.test_pull import pull_all


def test_news_entity_follows_release_edit_and_withdrawal(news, org):
    from gridapp.news.fanout import release_job

    shown = publish(news.sup_client, org.community.id, title="已发布", body="**加粗**")
    later = news.clock.now + dt.timedelta(hours=1)
    scheduled = publish(news.sup_client, org.community.id, title="定时",
                        publish_at=later.replace(tzinfo=dt.UTC).isoformat())  # fmt: skip
    publish(news.street_client, org.other_community.id, title="别的社区")
    rows, _t, cursor, epoch, _p = pull_all(news.worker_client)
    got = {k[1]: v for k, v in rows.items() if k[0] == "news"}
    assert list(got) == [str(shown["id"])]
    row = got[str(shown["id"])]
    assert row["body_html"] == "<p><strong>加粗</strong></p>"
    assert row["url"] == f"http://localhost/n/{news.token}/{shown['id']}"
    assert row["publish_at"].endswith("Z")

    news.clock.set(later)
    release_job.call_local()
    rows, tombs, cursor, epoch, _p = pull_all(news.worker_client, cursor, epoch)
    assert ("news", str(scheduled["id"])) in rows

    news.sup_client.patch(f"/api/v1/news/{shown['id']}", json={"version": 1, "title": "改了"})
    rows, tombs, cursor, epoch, _p = pull_all(news.worker_client, cursor, epoch)
    assert rows[("news", str(shown["id"]))]["title"] == "改了"

    news.sup_client.post(f"/api/v1/news/{shown['id']}/withdraw", json={"version": 2})
    rows, tombs, cursor, epoch, _p = pull_all(news.worker_client, cursor, epoch)
    assert ("news", str(shown["id"])) in tombs

"""The owner's Webhooks page, in Chinese: subscribe (a private address refused with a readable
reason, the secret shown once), pause, see a failed delivery and send it again."""

from __future__ import annotations

import pytest

from tests.admin.conftest import login
from tests.conftest import Api, build_chain
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_the_owner_subscribes_sees_the_secret_once_and_replays_a_failed_delivery(make_app):
    app = make_app(WEBHOOK_RETRY_WINDOW_SECONDS=0)
    chain = build_chain(app)
    owner, manager = app.test_client(), app.test_client()
    assert login(owner, "owner").status_code == 302 and login(manager, "manager").status_code == 302
    owner.post("/admin/language", data={"locale": "zh_CN"})
    assert manager.get("/admin/webhooks/").status_code in (302, 403)

    page = owner.get("/admin/webhooks/").get_data(as_text=True)
    assert "事件推送" in page and "消费已记录" in page and "会员等级变更" in page and "还没有订阅。" in page
    with Receiver(default=500) as receiver:
        form = {"url": receiver.url, "event_types": ["sale.recorded"], "store": "SH001"}
        refused = owner.post("/admin/webhooks/subscribe", data=form)
        assert refused.status_code == 400
        assert "该地址位于内网、本机或链路本地网络" in refused.get_data(as_text=True)

        app.config["WEBHOOKS_ALLOW_PRIVATE_URLS"] = True
        made = owner.post("/admin/webhooks/subscribe", data=form).get_data(as_text=True)
        assert "已订阅。请立即复制签名密钥" in made and "whsec_" in made
        assert "whsec_" not in owner.get("/admin/webhooks/").get_data(as_text=True)

        Api(app.test_client()).post("/sales", {"customer": {"phone": "138 0013 8000"},
                                               "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
        failed = owner.get("/admin/webhooks/?status=failed").get_data(as_text=True)
        assert "应答 500" in failed and "重新发送" in failed
        delivery_id = Api(app.test_client()).get("/webhooks/deliveries?status=failed",
                                                 token=chain.owner_token).json["items"][0]["id"]
        receiver.default = 200
        answer = owner.post(f"/admin/webhooks/deliveries/{delivery_id}/replay", follow_redirects=True)
        assert "已重新发送，对方已接收。" in answer.get_data(as_text=True)
        assert [r["answered"] for r in receiver.requests] == [500, 200]

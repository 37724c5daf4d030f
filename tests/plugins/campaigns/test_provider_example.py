"""The example SMS provider package (examples/storecrm-sms-example) behind campaigns' channel
interface: a campaign on "sms" reaches a real local HTTP gateway once per consenting customer."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import build_chain, enable
from tests.plugins.campaigns.conftest import FAST, Shop

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "storecrm-sms-example"


@pytest.fixture
def gateway(monkeypatch):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = json.dumps({"id": f"gw-{len(received)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STORECRM_SMS_GATEWAY_URL", f"http://127.0.0.1:{server.server_port}/send")
    yield received
    server.shutdown()


def test_a_campaign_on_the_example_sms_channel_reaches_the_gateway_once_per_consenting_customer(make_app, gateway,
                                                                                                monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from storecrm_sms_example import manifest

    app = make_app(plugins=[manifest])
    chain = build_chain(app)
    enable(app, "SH001", "campaigns", "sms_example")
    shop = Shop(app, chain)
    shop.settings(**FAST)
    yes = [shop.customer(f"短信{i}", consent=("sms",)) for i in range(3)]
    shop.customer("只同意邮件", consent=("email",))
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "短信", "segment_id": seg["id"], "channel": "sms",
                                              "body_zh": "{{ name }}，新品到店", "control_percent": "0"}, expect=201).json
    shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202)
    assert shop.messages(camp["id"]) == {cid: 1 for cid in yes}
    assert sorted(m["to"] for m in gateway) == [f"+86138{n:08d}" for n in (1, 2, 3)]
    assert all("新品到店" in m["text"] and "退订" in m["text"] for m in gateway)
    report = shop.get(f"/campaigns/campaigns/{camp['id']}/report", expect=200).json
    assert report["sends"]["sent"] == 3 and report["sends"]["excluded_no_consent"] == 1
    assert report["budget"]["spent"] == "0.15"  # the store's default SMS cost, 0.05 a message
    sys.modules.pop("storecrm_sms_example.hooks", None)

"""The channel: `send(message)` POSTs JSON {to, text, reference} to STORECRM_SMS_GATEWAY_URL
(with `Authorization: Bearer STORECRM_SMS_GATEWAY_TOKEN` when set) and returns the gateway's
message id. Raising makes campaigns record the message as failed and try it again later."""

from __future__ import annotations

import json
import os
import urllib.request

from core.plugins import hookimpl


class GatewaySms:
    name = "sms"
    consent_channel = "sms"  # the core consent this channel needs
    transactional = False  # an outside system: campaigns claims the message before calling send

    @staticmethod
    def address_of(customer):
        return customer.phone

    def send(self, message) -> str:
        url = os.environ.get("STORECRM_SMS_GATEWAY_URL")
        if not url:
            raise RuntimeError("set STORECRM_SMS_GATEWAY_URL")
        # An SMS has no subject: the text is the body, which already names the store and ends
        # with the unsubscribe path (link and the reply keyword 退订).
        body = json.dumps({"to": message.to, "text": message.body, "reference": message.message_id}).encode()
        headers = {"Content-Type": "application/json"}
        token = os.environ.get("STORECRM_SMS_GATEWAY_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read())["id"]


@hookimpl
def register_message_channels():
    return [GatewaySms()]

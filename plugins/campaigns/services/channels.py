"""Message channels: the built-in email (SMTP) and outbox channels, and the ones provider
plugins register through `register_message_channels` (SMS, WeChat; see
examples/storecrm-sms-example).

A channel is any object with `name`, `send(message) -> provider id`, and optionally
`consent_channel` (which core consent it needs: email, sms, wechat; default its name),
`address_of(customer)` and `transactional = True` when `send` only writes to the database
session (then the send commits with its claim: exactly once)."""

from __future__ import annotations

import os
import smtplib
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app


@dataclass
class OutgoingMessage:
    """What a channel is handed: already rendered, consent and cap already checked."""

    to: str | None
    subject: str
    body: str
    customer_id: int | None = None
    message_id: int | None = None
    store_id: int | None = None
    topic: str = "campaign"
    user_id: int | None = None
    headers: dict = field(default_factory=dict)
    session: object = None


def _config(key: str, default=None):
    value = current_app.config.get(key)
    if value is None:
        value = os.environ.get(f"STORECRM_{key}", default)
    return value


class EmailChannel:
    """Email over SMTP: STORECRM_SMTP_HOST, _PORT (25), _USER, _PASSWORD, _STARTTLS (0/1),
    _FROM (the sender address) — or the same keys in the app config."""

    name = "email"
    consent_channel = "email"
    transactional = False

    @staticmethod
    def address_of(customer):
        return customer.email

    def send(self, message: OutgoingMessage) -> str:
        host = _config("SMTP_HOST")
        if not host:
            raise RuntimeError("email is not configured: set STORECRM_SMTP_HOST")
        sender = _config("SMTP_FROM", "storecrm@localhost")
        email = EmailMessage()
        email["From"] = formataddr((message.headers.pop("From-Name", ""), sender)) if message.headers.get("From-Name") else sender
        email["To"] = message.to
        email["Subject"] = message.subject
        # A Message-ID fixed by the message row: a receiving server can drop a duplicate.
        msg_id = make_msgid(idstring=f"storecrm-{message.message_id or uuid.uuid4().hex}", domain="storecrm.local")
        email["Message-ID"] = msg_id
        for key, value in message.headers.items():
            email[key] = value
        email.set_content(message.body)
        with smtplib.SMTP(host, int(_config("SMTP_PORT", 25)), timeout=30) as smtp:
            if str(_config("SMTP_STARTTLS", "0")) in ("1", "true", "yes"):
                smtp.starttls()
            user = _config("SMTP_USER")
            if user:
                smtp.login(user, _config("SMTP_PASSWORD", ""))
            smtp.send_message(email)
        return msg_id


class OutboxChannel:
    """Records the message in `campaigns_outbox` for export or sending by hand (e.g. texting
    from the store's phone), so it needs the customer's SMS consent."""

    name = "outbox"
    consent_channel = "sms"
    transactional = True

    @staticmethod
    def address_of(customer):
        return customer.phone or customer.wechat_id or customer.email

    def send(self, message: OutgoingMessage) -> str:
        from plugins.campaigns.models import OutboxEntry

        entry = OutboxEntry(message_id=message.message_id, customer_id=message.customer_id, user_id=message.user_id,
                            store_id=message.store_id, topic=message.topic, subject=message.subject, body=message.body)
        message.session.add(entry)  # written with the batch's next flush, in the claim's transaction
        return f"outbox:{message.message_id}"


BUILT_IN = (EmailChannel, OutboxChannel)


def available_channels(app=None) -> dict:
    """{name: channel}: the built-in email and outbox, then every installed plugin's
    `register_message_channels` (SMS, WeChat providers), gathered once per app; a provider
    cannot replace a built-in channel, and the first of any other name wins."""
    app = app or current_app
    found = app.extensions.get("campaigns.channels")
    if found is None:
        found = {cls.name: cls() for cls in BUILT_IN}
        reg = app.extensions["storecrm.plugins"]
        for answer in reg.call_registration("register_message_channels"):
            for channel in answer or []:
                if channel.name not in found:
                    found[channel.name] = channel
        app.extensions["campaigns.channels"] = found
    return found


def channel(name: str):
    from core.errors import InvalidInput

    found = available_channels().get(name)
    if found is None:
        raise InvalidInput(f"unknown channel {name}", fields={"channel": [
            f"Must be one of {', '.join(sorted(available_channels()))}."]})
    return found


def consent_channel(chan) -> str:
    return getattr(chan, "consent_channel", chan.name)


def address_of(chan, customer):
    getter = getattr(chan, "address_of", None)
    if getter is not None:
        return getter(customer)
    return {"email": customer.email, "sms": customer.phone, "wechat": customer.wechat_id}.get(consent_channel(chan))

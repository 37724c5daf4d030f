"""Messages one at a time: notices other plugins ask for (`customer_notification`: membership's
tier changes, feedback's acknowledgements and surveys), care messages from the automations, and
notices to staff (`staff_notification`). Consent for the channel always applies; these are
exempt from the marketing cap and quiet hours and carry a label saying why they came."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from core.models import Store, User, utcnow
from core.models.prepared import Prepared
from plugins.campaigns.models import Message, OutboxEntry
from plugins.campaigns.services import channels, messaging

# Texts for the topics other plugins send; any other topic uses the sender's data["texts"][lang]
# (subject, body), else data["title"] / data["text"].
TOPICS = {
    "membership.upgrade": ("恭喜升级为{{ tier }}", "{{ name }}，恭喜您在{{ store }}升级为{{ tier }}会员！",
                           "You are now {{ tier }}", "{{ name }}, congratulations: you are now a {{ tier }} member at {{ store }}!"),
    "membership.welcome": ("欢迎加入会员", "{{ name }}，欢迎成为{{ store }}的{{ tier }}会员！",
                           "Welcome to the membership", "{{ name }}, welcome: you are now a {{ tier }} member at {{ store }}!"),
    "membership.downgrade": ("会员等级变更", "{{ name }}，您在{{ store }}的会员等级已调整为{{ tier }}。",
                             "Your membership tier changed", "{{ name }}, your membership tier at {{ store }} is now {{ tier }}."),
}
CARE_TOPICS = {
    "care.birthday": ("生日快乐", "{{ name }}，{{ store }}提前祝您生日快乐！生日当周到店有惊喜。",
                      "Happy birthday", "{{ name }}, {{ store }} wishes you a happy birthday in advance!"),
    "care.followup": ("购物回访", "{{ name }}，感谢您在{{ store }}购物，使用还满意吗？有任何问题请随时联系我们。",
                      "How are you getting on?", "{{ name }}, thank you for shopping at {{ store }}. Is everything all right?"),
    "care.festival": ("节日快乐", "{{ name }}，{{ store }}祝您{{ coupon_label }}快乐！",
                      "Season's greetings", "{{ name }}, {{ store }} wishes you a happy {{ coupon_label }}!"),
    "care.winback": ("好久不见", "{{ name }}，{{ store }}想念您了，欢迎回来看看新品。",
                     "We miss you", "{{ name }}, {{ store }} misses you: come and see what is new."),
    "care.apology": ("致歉", "{{ name }}，关于您上次的反馈，{{ store }}深表歉意，我们正在处理，店长会尽快与您联系。",
                     "Our apologies", "{{ name }}, we are sorry about your last experience at {{ store }}; the manager will contact you."),
    "care.second_visit": ("欢迎再次光临", "{{ name }}，感谢首次光临{{ store }}！送您一张{{ coupon_label }}优惠券，券码 {{ coupon_code }}，{{ expires_on }}前有效。",
                          "Welcome back soon", "{{ name }}, thanks for your first visit to {{ store }}! Here is {{ coupon_label }}: code {{ coupon_code }}, valid until {{ expires_on }}."),
    "care.referral": ("推荐奖励", "{{ name }}，感谢推荐！送您{{ coupon_label }}，券码 {{ coupon_code }}，{{ expires_on }}前有效。",
                      "Referral reward", "{{ name }}, thank you for the referral! Here is {{ coupon_label }}: code {{ coupon_code }}, valid until {{ expires_on }}."),
}


def texts_for(topic: str, data: dict, lang: str) -> tuple[str, str]:
    texts = TOPICS.get(topic) or CARE_TOPICS.get(topic)
    if texts is None:
        # The sender's own words, per language (the customer_notification hook's `texts`).
        own = data.get("texts") or {}
        words = own.get(lang) or own.get("zh")
        if words:
            return str(words[0]), str(words[1])
        title, text = str(data.get("title") or topic), str(data.get("text") or data.get("message") or "")
        return title, text
    return (texts[2], texts[3]) if lang == "en" else (texts[0], texts[1])


def send_to_customer(session, store: Store | None, customer, topic: str, data: dict, settings: dict, *,
                     purpose: str = "transactional", dedupe_key: str | None = None, channel_name: str | None = None,
                     deliver_now: bool | None = None) -> Message | None:
    """Render and send (or queue) one message. None when the customer has no standing consent
    or address for the channel, or `dedupe_key` was used before (never twice)."""
    chan = channels.channel(channel_name or settings.get("care_channel") or "outbox")
    consent = channels.consent_channel(chan)
    if customer.erased_at is not None or customer.id not in messaging.consent_stands(session, [customer.id], consent):
        return None
    address = channels.address_of(chan, customer)
    if not address:
        return None
    if dedupe_key and DEDUPE_TAKEN.execute(session, {"key": dedupe_key}).first() is not None:
        return None
    lang = messaging.language_of(customer)
    subject_t, body_t = texts_for(topic, data, lang)
    # The customer's and the store's names come from their records (a sender's data may name the
    # store by its code); the other fields from the data.
    values = {**{k: data.get(k) for k in messaging.FIELDS if data.get(k) is not None},
              "name": customer.name, "store": store.name if store else ""}
    if data.get("tier_name"):
        values["tier"] = data["tier_name"]  # a person reads the tier's name, never its code
    label = messaging.CARE_LABEL[lang] if purpose == "care" else ""
    token = messaging.unsubscribe_token(customer.id, consent)
    body = label + messaging.render(body_t, values) + messaging.FOOTER[lang].format(
        store=store.name if store else "", link=messaging.unsubscribe_link(token))
    message = Message(customer_id=customer.id, store_id=store.id if store else None, dedupe_key=dedupe_key,
                      channel=chan.name, purpose=purpose, topic=topic[:64], address=address,
                      subject=messaging.render(subject_t, values)[:300], body=body, status="queued", claimed_at=utcnow())
    with session.begin_nested():
        session.add(message)
        session.flush()
    if deliver_now if deliver_now is not None else chan.transactional:
        from plugins.campaigns.services.sending import _deliver

        message.status = "claimed"
        _deliver(session, chan, message)
        session.flush()
    return message


DEDUPE_TAKEN = Prepared(lambda dialect: select(Message.id).where(Message.dedupe_key == bindparam("key")).limit(1))


def deliver_queued(session, limit: int = 500) -> int:
    """Send queued one-off messages (after the commit of whoever queued them): claim, commit, send."""
    rows = list(session.scalars(select(Message).where(Message.status == "queued").order_by(Message.id).limit(limit)))
    for message in rows:
        message.status = "claimed"
    session.commit()
    for message in rows:
        from plugins.campaigns.services.sending import _deliver

        _deliver(session, channels.channel(message.channel), message)
        session.commit()
    return len(rows)


def notify_staff(session, store: Store | None, users: list[User], topic: str, data: dict) -> int:
    """A notice on each staff member's list (the admin's notices page and the outbox export)."""
    title = str(data.get("title") or topic)
    text = str(data.get("text") or data.get("message") or ", ".join(f"{k}: {v}" for k, v in sorted(data.items())))
    for user in users:
        session.add(OutboxEntry(user_id=user.id, store_id=store.id if store else None, topic=topic[:64],
                                subject=title[:300], body=text))
    session.flush()
    return len(users)

"""Believable demo data for `storecrm demo`: a comment book, survey answers and a handful of
complaints in every state, attributed to the store's staff and tied to real demo sales."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from core.models import Customer, Sale, User
from core.models.user import user_store
from plugins.feedback.models import Complaint, FeedbackEntry
from plugins.feedback.services.complaints import create_complaint, transition
from plugins.feedback.services.feedback import record_feedback

PRAISE = {
    "coffee": ["拿铁很香, 奶泡细腻", "店员记得我不加糖, 很贴心", "靠窗的位置很舒服", "新品抹茶拿铁好喝"],
    "beauty": ["技师手法专业, 很放松", "补水护理效果明显", "环境安静干净", "预约很准时"],
}
GRUMBLES = [
    ("service_attitude", "高峰期等了二十分钟, 店员也没解释"),
    ("product_quality", "蛋糕有点不新鲜, 口感偏干"),
    ("environment", "洗手间不够干净"),
    ("price", "会员价和外卖平台差不多, 希望更优惠"),
]
COMPLAINTS = [
    ("product_quality", "买的咖啡豆包装破损, 受潮了", "resolved", {"apology": True, "replacement": "换一袋新的咖啡豆"}),
    ("service_attitude", "点单时店员态度不耐烦", "closed", {"apology": True, "compensation": "赠送一杯饮品"}),
    ("other", "会员积分没有到账", "in_progress", None),
    ("environment", "空调太冷, 说了没人调", "acknowledged", None),
    ("product_quality", "外带的拿铁洒了一半", "new", None),
]


def seed(session, ctx, store, rng, today) -> None:
    if session.scalar(select(exists().where(FeedbackEntry.store_id == store.id, FeedbackEntry.actor == "demo"))):
        return  # idempotent: the demo's data is there already
    zone = ZoneInfo(store.timezone)
    staff = list(session.scalars(select(User).join(user_store, user_store.c.user_id == User.id)
                                 .where(user_store.c.store_id == store.id).order_by(User.id)))
    sales = list(session.scalars(select(Sale).where(Sale.store_id == store.id, Sale.customer_id.isnot(None))
                                 .order_by(Sale.occurred_at.desc()).limit(200)))
    if not sales:
        return
    praise = PRAISE["beauty" if "美" in store.name else "coffee"]
    for i in range(36):
        sale = rng.choice(sales)
        day = today - timedelta(days=rng.randint(0, 55))
        at = datetime.combine(day, time(rng.randint(9, 20), rng.randint(0, 59)), zone)
        happy = rng.random() < 0.75
        rating = rng.choice((4, 5, 5)) if happy else rng.choice((1, 2, 3))
        category, text = (("service_attitude", rng.choice(praise)) if happy else rng.choice(GRUMBLES))
        customer = session.get(Customer, sale.customer_id)
        record_feedback(session, store, rating=rating, category=category, text=text,
                        channel=rng.choice(("comment_book", "survey", "website", "social")), customer=customer,
                        sale_id=sale.id, staff_id=sale.staff_id, actor="demo", now=at)
    manager = next((u for u in staff if u.role == "manager"), None)
    settings = ctx.settings()
    for i, (category, text, final, resolution) in enumerate(COMPLAINTS):
        sale = sales[(i * 7) % len(sales)]
        customer = session.get(Customer, sale.customer_id)
        made = datetime.combine(today - timedelta(days=(3 * i + 1) if final != "new" else 0),
                                time(11 + i, 15), zone)
        if final == "new":
            made = datetime.now(zone) - timedelta(hours=20)  # close to its 24-hour deadline
        complaint = create_complaint(session, ctx, store=store, settings=settings, category=category,
                                     description=text, customer=customer, sale_id=sale.id, staff_id=sale.staff_id,
                                     assignee_id=manager.id if manager else None, actor="demo", now=made)
        path = {"acknowledged": ["acknowledged"], "in_progress": ["acknowledged", "in_progress"],
                "resolved": ["acknowledged", "in_progress", "resolved"],
                "closed": ["acknowledged", "resolved", "closed"]}.get(final, [])
        step = made
        for state in path:
            step += timedelta(hours=rng.randint(2, 30))
            transition(session, ctx, complaint, state, note="", user=manager, actor="demo",
                       resolution=resolution if state == "resolved" else None, now=step)
    session.flush()


__all__ = ["seed", "Complaint"]

"""Believable demo stock (`demo_seed`): two suppliers, opening stock that leaves believable
levels after the demo's months of sales, a few items near or under their safety stock, a
purchase order received three weeks ago and one sent and still awaited. Idempotent: every
move has a source key and the suppliers and orders are looked up first."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from core.models import Product, Sale, SaleLine
from plugins.inventory.models import PurchaseOrder, PurchaseOrderLine, Stock, Supplier
from plugins.inventory.services.ledger import ZERO, apply_moves, recheck_alerts

SUPPLIERS = [
    {"name": "杭州木棉服装厂", "contact": "沈经理", "phone": "0571-8888 6621", "email": "orders@mumian-factory.example",
     "lead_time_days": 10, "note": "主力供应商：连衣裙、衬衫、大衣"},
    {"name": "绍兴柯桥面料行", "contact": "钱小姐", "phone": "0575-8512 3390", "email": "sales@keqiao-textile.example",
     "lead_time_days": 5, "note": "围巾、T 恤，小批量补货快"},
]


def _at(store, day, hour=10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=store.tz)


def seed(session, store, rng, today, *, actor: str = "demo") -> None:
    if session.scalar(select(func.count()).select_from(PurchaseOrder).where(PurchaseOrder.store_id == store.id)):
        return  # seeded before
    suppliers = []
    for values in SUPPLIERS:
        supplier = session.scalars(select(Supplier).where(Supplier.name == values["name"])).first()
        if supplier is None:
            supplier = Supplier(**values, active=True)
            session.add(supplier)
        suppliers.append(supplier)
    session.flush()
    products = list(session.scalars(
        select(Product).where(Product.id.in_(select(SaleLine.product_id).join(Sale, Sale.id == SaleLine.sale_id)
                                             .where(Sale.store_id == store.id))).order_by(Product.sku)))
    if not products:
        return
    # A past order, received in full three weeks ago, for the first two products.
    received = PurchaseOrder(store_id=store.id, supplier=suppliers[0], status="received", created_by=actor,
                             note="换季补货", created_at=_at(store, today - timedelta(days=34)),
                             sent_at=_at(store, today - timedelta(days=33)), received_at=_at(store, today - timedelta(days=21)))
    received.lines = [PurchaseOrderLine(product=p, quantity=Decimal(rng.choice((10, 12, 15))), unit_cost=p.cost or ZERO,
                                        received_quantity=ZERO) for p in products[:2]]
    session.add(received)
    session.flush()
    for line in received.lines:
        line.received_quantity = line.quantity
    apply_moves(session, store.id, [
        {"product_id": line.product.id, "kind": "receipt", "quantity": line.quantity, "unit_cost": line.unit_cost,
         "purchase_order_id": received.id, "reason": f"PO #{received.id}", "actor": actor,
         "source_key": f"demo:po:{received.id}:{line.product.id}", "occurred_at": received.received_at}
        for line in received.lines], default_safety=Decimal("5"))
    levels = dict(session.execute(select(Stock.product_id, Stock.quantity).where(Stock.store_id == store.id)).all())
    # Levels today: most comfortable, one under its safety stock and one just above it.
    opening = []
    for i, product in enumerate(products):
        safety = Decimal(rng.choice((4, 5, 6, 8)))
        target = {0: safety - 2, 1: safety + 1}.get(i, Decimal(rng.randint(12, 40)))
        if product.price and product.price >= 1000:
            target = min(target, Decimal(rng.randint(4, 7)))  # coats: few on the rail
        stock = session.get(Stock, (store.id, product.id))
        if stock is None:
            stock = Stock(store_id=store.id, product_id=product.id, quantity=ZERO, in_transit=ZERO, alert_open=False)
            session.add(stock)
        stock.safety_stock = safety
        stock.max_level = safety * 4 if i % 2 == 0 else None
        stock.supplier_id = suppliers[0 if product.category in ("dress", "shirt", "coat", "trousers") else 1].id
        session.flush()
        needed = target - Decimal(levels.get(product.id, 0))
        if needed:
            opening.append({"product_id": product.id, "kind": "receipt", "quantity": needed, "unit_cost": product.cost,
                            "reason": "期初库存", "actor": actor,
                            "source_key": f"demo:opening:{store.id}:{product.id}",
                            "occurred_at": _at(store, today - timedelta(days=120), 9)})
    apply_moves(session, store.id, opening, default_safety=Decimal("5"))
    # The levels were set, not sold down to: alert on what stands below its safety stock now.
    recheck_alerts(session, store.id, [p.id for p in products], default_safety=Decimal("5"))
    # One order sent and not yet here, for the product that runs low.
    waiting = PurchaseOrder(store_id=store.id, supplier=suppliers[0], status="sent", created_by=actor,
                            note="补货：库存低于安全库存", created_at=_at(store, today - timedelta(days=2)),
                            sent_at=_at(store, today - timedelta(days=2), 11))
    waiting.lines = [PurchaseOrderLine(product=products[0], quantity=Decimal(12), unit_cost=products[0].cost or ZERO,
                                       received_quantity=ZERO)]
    session.add(waiting)
    session.flush()

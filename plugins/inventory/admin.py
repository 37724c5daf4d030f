"""Inventory in the admin: the stock page (levels, safety stock, what to reorder, a move by hand),
the ledger, alerts, suppliers, purchase orders, stocktakes, transfers, the analysis charts and a
product's stock card. Built on core/admin's base views: login required, hidden where inventory
is off, rows limited to the stores the user works in."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.admin.messages import describe
from core.admin.base import StoreModelView, StoreView, current_store, current_user_or_none, registry
from core.errors import DomainError
from core.extensions import db
from core.models import Product, Store
from core.plugins import HookContext
from core.roles import may
from plugins.inventory.hooks import staff_notifier
from plugins.inventory.labels import MOVE_KIND_LABELS, SUGGESTION_METHOD_LABELS, label
from plugins.inventory.models import Alert, Move, PurchaseOrder, Supplier
from plugins.inventory.services import analysis as analysis_svc
from plugins.inventory.services import ledger, purchasing, stock
from plugins.inventory.services import stocktake as stocktakes
from plugins.inventory.services import transfers
from plugins.inventory.services.ledger import qty

CATEGORY = _l("Inventory")
PLUGIN = "inventory"


def _ctx(store) -> HookContext:
    user = current_user_or_none()
    return HookContext(session=db.session, store=store, user=user, actor=user.username if user else "admin",
                       registry=registry(), plugin=PLUGIN)


def _effects(store) -> dict:
    ctx = _ctx(store)
    return {"default_safety": Decimal(ctx.settings()["default_safety_stock"]), "notify": staff_notifier(ctx),
            "user": ctx.user, "actor": ctx.actor}


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value).strip()) if value not in (None, "") else None
    except InvalidOperation:
        return None


class InventoryPage(StoreView):
    """A free page of one store (the chain view asks to pick a store first)."""

    plugin = PLUGIN

    def store_or_pick(self):
        store = current_store()
        if store is None:
            return None, self.render("inventory/pick_store.html")
        if not registry().is_enabled(store, PLUGIN):
            abort(404)
        return store, None

    def run(self, action, success: str, target: str):
        """Run a service call, commit, flash; a refused change is rolled back and explained."""
        try:
            action()
            db.session.commit()
            flash(success, "success")
        except DomainError as exc:
            db.session.rollback()
            flash(describe(exc), "error")
        return redirect(target)


class StockPage(InventoryPage):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        settings = registry().settings(store, PLUGIN)
        if request.method == "POST":
            return self._book_move(store)
        items, _more = stock.list_stock(db.session, store.id, Decimal(settings["default_safety_stock"]), limit=500)
        suggestions = purchasing.suggestions(db.session, store.id, settings)
        suppliers = list(db.session.scalars(select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name)))
        for s in suggestions:
            s["method_label"] = label(SUGGESTION_METHOD_LABELS, s["method"])
        return self.render("inventory/stock.html", store=store, items=items, suggestions=suggestions,
                           suppliers=suppliers, qty=qty, settings=settings,
                           can_manage=may(current_user_or_none(), "inventory.orders.change"))

    def _book_move(self, store):
        kind = request.form.get("kind")
        if kind not in ("receipt", "adjustment"):
            abort(400)
        if kind == "adjustment" and not may(current_user_or_none(), "inventory.adjust"):
            abort(403)
        quantity = _decimal(request.form.get("quantity"))
        if quantity is None:
            flash(_("Give the quantity as a number."), "error")
            return redirect(url_for(".index"))

        def book():
            product = stock.find_product(db.session, barcode=(request.form.get("item") or "").strip() or "-")
            ledger.post_move(db.session, store, product, kind=kind, quantity=quantity, reason=request.form.get("reason") or "",
                             unit_cost=_decimal(request.form.get("unit_cost")), **_effects(store))

        return self.run(book, _("Stock updated."), url_for(".index"))

    @expose("/order", methods=["POST"])
    def order_suggestions(self):
        store, picked = self.store_or_pick()
        if store is None:
            abort(403)
        created = {}

        def draft():
            order = purchasing.create_order(db.session, store, request.form.get("supplier_id", type=int) or 0, None,
                                            from_suggestions=True, settings=registry().settings(store, PLUGIN),
                                            actor=current_user_or_none().username)
            created["id"] = order.id

        response = self.run(draft, _("Draft purchase order created from the suggestions."), url_for(".index"))
        if "id" in created:
            return redirect(url_for("inventory_orders.details", order_id=created["id"]))
        return response


class ProductCard(InventoryPage):
    """A product's stock card: the level in each of the user's stores and every move behind it."""

    def is_visible(self):
        return False  # no menu entry: the stock page and the ledger link to it

    @expose("/")
    def index(self):
        return redirect(url_for("inventory_stock.index"))

    @expose("/<int:product_id>", methods=["GET", "POST"])
    def card(self, product_id):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        product = db.session.get(Product, product_id) or abort(404)
        if request.method == "POST":  # manager (core/roles.py: inventory_product.card POST)
            values = {key: _decimal(request.form.get(key)) for key in ("safety_stock", "max_level")}
            values["lead_time_days"] = request.form.get("lead_time_days", type=int)
            values["supplier_id"] = request.form.get("supplier_id", type=int)
            effects = _effects(store)
            return self.run(lambda: stock.set_stock_settings(db.session, store.id, product, values,
                                                             default_safety=effects["default_safety"],
                                                             notify=effects["notify"]),
                            _("Stock settings saved."), url_for(".card", product_id=product.id))
        rows, _last = stock.moves_page(db.session, store.id, product_id=product.id, limit=500)
        stores = {s.id: s for s in db.session.scalars(select(Store))}
        card = stock.stock_card(db.session, product.id, [s.id for s in self._visible_stores()])
        own = next((row for row in card if row["store_id"] == store.id), None)
        suppliers = list(db.session.scalars(select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name)))
        return self.render("inventory/product.html", store=store, product=product, moves=rows, card=card, stores=stores,
                           qty=qty, kind_label=lambda k: label(MOVE_KIND_LABELS, k), own=own, suppliers=suppliers,
                           can_manage=may(current_user_or_none(), "inventory.orders.change"))

    def _visible_stores(self):
        from core.admin.base import chain_view_stores

        return [s for s in chain_view_stores() if registry().is_enabled(s, PLUGIN)]


class OrdersPage(InventoryPage):
    @expose("/")
    def index(self):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        orders = [purchasing.order_view(o) for o in purchasing.orders_of(db.session, store.id)]
        return self.render("inventory/orders.html", store=store, orders=orders, qty=qty)

    @expose("/<int:order_id>", methods=["GET", "POST"])
    def details(self, order_id):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        order = db.session.get(PurchaseOrder, order_id)
        if order is None or order.store_id != store.id:
            abort(404)
        if request.method == "POST":
            return self._act(store, order_id, request.form.get("action"))
        return self.render("inventory/order.html", store=store, order=purchasing.order_view(order), qty=qty,
                           can_manage=may(current_user_or_none(), "inventory.orders.change"))

    def _act(self, store, order_id, action):
        from flask import current_app

        target = url_for(".details", order_id=order_id)
        if action in ("send", "cancel") and not may(current_user_or_none(), "inventory.orders.change"):
            abort(403)
        if action == "receive":
            lines = [{"sku": key[4:], "quantity": _decimal(value)} for key, value in request.form.items()
                     if key.startswith("qty:") and _decimal(value)]
            return self.run(lambda: purchasing.receive(db.session, purchasing.order_for_update(db.session, store, order_id),
                                                       lines or None, **_effects(store)), _("Goods received."), target)
        if action == "cancel":
            return self.run(lambda: purchasing.cancel_order(db.session, purchasing.order_for_update(db.session, store, order_id)),
                            _("Order cancelled."), target)
        if action == "send":
            response = self.run(lambda: purchasing.send_order(db.session, purchasing.order_for_update(db.session, store, order_id)),
                                _("Order marked as sent."), target)
            order = db.session.get(PurchaseOrder, order_id)
            smtp = purchasing.smtp_settings(current_app.config)
            if order.status == "sent" and smtp is not None and order.supplier.email:
                try:
                    order.emailed_to = purchasing.email_order(order, smtp)
                    flash(_("Emailed to %(address)s.", address=order.emailed_to), "success")
                except Exception as exc:  # noqa: BLE001 - shown on the order, the order stays sent
                    order.email_error = str(exc)[:500] or type(exc).__name__
                    flash(_("The email could not be sent: %(error)s", error=order.email_error), "error")
                db.session.commit()
            return response
        abort(400)


class StocktakesPage(InventoryPage):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        if request.method == "POST":  # manager (core/roles.py: inventory_stocktakes.index POST)
            return self.run(lambda: stocktakes.open_stocktake(db.session, store, category=request.form.get("category") or None,
                                                              actor=current_user_or_none().username),
                            _("Stocktake opened: scan the shelf."), url_for(".index"))
        from plugins.inventory.models import Stocktake

        takes = list(db.session.scalars(select(Stocktake).where(Stocktake.store_id == store.id)
                                        .order_by(Stocktake.id.desc()).limit(50)))
        categories = sorted(c for c in db.session.scalars(select(Product.category).distinct()) if c)
        return self.render("inventory/stocktakes.html", store=store, takes=takes, categories=categories,
                           status_label=lambda s: label(stocktakes.STOCKTAKE_STATUS_LABELS, s))

    @expose("/<int:stocktake_id>", methods=["GET", "POST"])
    def details(self, stocktake_id):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        try:
            take = stocktakes.stocktake_in(db.session, store, stocktake_id)
        except DomainError:
            abort(404)
        target = url_for(".details", stocktake_id=stocktake_id)
        action = request.form.get("action") if request.method == "POST" else None
        if action == "count":
            quantity = _decimal(request.form.get("quantity") or "1") or Decimal(1)
            return self.run(lambda: stocktakes.count(db.session, store, take, (request.form.get("barcode") or "").strip(),
                                                     quantity), _("Counted."), target)
        if action in ("post", "cancel"):
            if not may(current_user_or_none(), "inventory.stocktakes.manage"):
                abort(403)
            if action == "post":
                return self.run(lambda: stocktakes.post(db.session, store, take, **_effects(store)),
                                _("Variances posted as stocktake moves."), target)
            return self.run(lambda: stocktakes.cancel(db.session, take), _("Stocktake cancelled."), target)
        return self.render("inventory/stocktake.html", store=store, take=stocktakes.view(db.session, take), qty=qty)


class TransfersPage(InventoryPage):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        if request.method == "POST" and request.form.get("action") == "send":
            return self._send(store)
        if request.method == "POST":
            transfer_id = request.form.get("transfer_id", type=int) or 0
            return self.run(lambda: transfers.receive_transfer(
                db.session, store, transfers.transfer_for(db.session, store, transfer_id, lock=True), **_effects(store)),
                _("Transfer received."), url_for(".index"))
        rows = [transfers.transfer_view(t) for t in transfers.transfers_of(db.session, store.id)]
        others = [s for s in db.session.scalars(select(Store).order_by(Store.code))
                  if s.id != store.id and registry().is_enabled(s, PLUGIN)]
        return self.render("inventory/transfers.html", store=store, transfers=rows, qty=qty, others=others,
                           can_manage=may(current_user_or_none(), "inventory.orders.change"))

    def _send(self, store):
        if not may(current_user_or_none(), "inventory.transfers.send"):
            abort(403)
        target = db.session.scalars(select(Store).where(Store.code == request.form.get("to_store"))).first()
        quantity = _decimal(request.form.get("quantity"))
        if target is None or not registry().is_enabled(target, PLUGIN) or quantity is None or quantity <= 0:
            flash(_("Pick a store with inventory on and a positive quantity."), "error")
            return redirect(url_for(".index"))
        return self.run(lambda: transfers.create_transfer(
            db.session, store, target, [{"sku": (request.form.get("sku") or "").strip(), "quantity": quantity}],
            note=request.form.get("note") or None, **_effects(store)), _("Transfer sent: in transit."), url_for(".index"))


class AnalysisPage(InventoryPage):
    @expose("/")
    def index(self):
        store, picked = self.store_or_pick()
        if store is None:
            return picked
        days = request.args.get("days", type=int)
        days = days if days in (7, 30, 90) else 30
        settings = registry().settings(store, PLUGIN)
        result = analysis_svc.analysis(db.session, store.id, days=days, dead_stock_days=settings["dead_stock_days"])
        return self.render("inventory/analysis.html", store=store, days=days, result=result, qty=qty,
                           charts=charts_for(result))


def charts_for(result: dict) -> dict:
    """Chart.js specs (drawn by the core's locally served Chart.js)."""
    by_category: dict[str, Decimal] = {}
    for p in result["products"]:
        by_category[p["category"] or _("Uncategorised")] = by_category.get(p["category"] or _("Uncategorised"), 0) + p["value"]
    covered = [p for p in result["products"] if p["days_of_cover"] is not None]
    return {
        "best": {"type": "bar", "labels": [p["name"] for p in result["best"]], "indexAxis": "y",
                 "datasets": [{"label": _("Units sold"), "data": [float(p["sold"]) for p in result["best"]]}]},
        "value": {"type": "doughnut", "labels": list(by_category),
                  "datasets": [{"label": _("Stock value at cost (¥)"), "data": [float(v) for v in by_category.values()]}]},
        "cover": {"type": "bar", "labels": [p["name"] for p in covered],
                  "datasets": [{"label": _("Days of cover"), "data": [float(p["days_of_cover"]) for p in covered]},
                               {"label": _("Turnover"), "data": [float(p["turnover"] or 0) for p in covered]}]},
    }


def _kind(view, context, model, name):
    return label(MOVE_KIND_LABELS, model.kind)


def _sku(view, context, model, name):
    product = model.product
    return Markup('<a href="{}">{}</a>').format(url_for("inventory_product.card", product_id=product.id), product.sku)


class MovesView(StoreModelView):
    plugin = PLUGIN
    store_column = "store_id"
    can_create = can_edit = can_delete = False
    column_list = ["occurred_at", "product", "kind", "quantity", "unit_cost", "reason", "sale_id", "purchase_order_id",
                   "actor"]
    column_labels = {"occurred_at": _l("When"), "product": _l("Product"), "kind": _l("Kind"), "quantity": _l("Quantity"),
                     "unit_cost": _l("Unit cost"), "reason": _l("Reason"), "sale_id": _l("Sale"),
                     "purchase_order_id": _l("Purchase order"), "actor": _l("By")}
    column_formatters = {"kind": _kind, "product": _sku, "quantity": lambda v, c, m, n: qty(m.quantity)}
    column_filters = ["kind", "sale_id", "purchase_order_id"]
    column_default_sort = ("id", True)


class AlertsView(StoreModelView):
    plugin = PLUGIN
    store_column = "store_id"
    can_create = can_edit = can_delete = False
    column_list = ["raised_at", "product", "level", "safety_stock", "cleared_at", "notified"]
    column_labels = {"raised_at": _l("Raised"), "product": _l("Product"), "level": _l("Level"),
                     "safety_stock": _l("Safety stock"), "cleared_at": _l("Cleared"), "notified": _l("Manager notified")}
    column_formatters = {"product": _sku, "level": lambda v, c, m, n: qty(m.level),
                         "safety_stock": lambda v, c, m, n: qty(m.safety_stock)}
    column_default_sort = ("id", True)


class SupplierView(StoreModelView):
    plugin = PLUGIN
    can_delete = False  # orders refer to suppliers: mark one inactive
    column_list = ["name", "contact", "phone", "email", "lead_time_days", "active"]
    form_columns = ["name", "contact", "phone", "email", "lead_time_days", "note", "active"]
    column_labels = {"name": _l("Supplier name"), "contact": _l("Contact"), "phone": _l("Telephone"), "email": _l("Email"),
                     "lead_time_days": _l("Lead time (days)"), "note": _l("Note"), "active": _l("Active")}


def register(admin, app) -> None:
    pages = [
        (StockPage, _l("Stock"), "inventory_stock", "stock"),
        (OrdersPage, _l("Purchase orders"), "inventory_orders", "orders"),
        (StocktakesPage, _l("Stocktakes"), "inventory_stocktakes", "stocktakes"),
        (TransfersPage, _l("Transfers"), "inventory_transfers", "transfers"),
        (AnalysisPage, _l("Stock analysis"), "inventory_analysis", "analysis"),
    ]
    for view, name, endpoint, path in pages:
        admin.add_view(view(name=name, category=CATEGORY, endpoint=endpoint, url=f"/admin/inventory/{path}"))
    admin.add_view(MovesView(Move, db, name=_l("Stock ledger"), category=CATEGORY, endpoint="inventory_moves",
                             url="/admin/inventory/moves"))
    admin.add_view(AlertsView(Alert, db, name=_l("Stock alerts"), category=CATEGORY, endpoint="inventory_alerts",
                              url="/admin/inventory/alerts"))
    admin.add_view(SupplierView(Supplier, db, name=_l("Suppliers"), category=CATEGORY, endpoint="inventory_suppliers",
                                url="/admin/inventory/suppliers"))
    # The product card has no menu entry: the stock page and the ledger link to it.
    admin.add_view(ProductCard(name=_l("Stock card"), endpoint="inventory_product", url="/admin/inventory/product"))


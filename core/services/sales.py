"""Sales, refunds and visits: the shared events every plugin reacts to."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core import events
from core.access import caller_store_ids, customer_or_404, link_customer
from core.errors import Conflict, DomainError, ExternalIdReused, InvalidInput, NotFound, Unprocessable
from core.models import (
    Customer, Product, Refund, RefundLine, Sale, SaleAdjustment, SaleLine, SalePayment, Store, User, Visit, money,
    utcnow,
)
from core.models.prepared import Prepared
from core.plugins import HookContext
from core.services import pricing
from core.services.customers import create_customer, find_by_phone
from core.services.fingerprint import differing, fingerprint
from core.services.sale_bounds import check_sale_bounds
from core.services.sale_rows import insert_sale

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


class Lookups:
    """Where `build_sale` finds what a sale names: one query each. A batch passes one that
    fetched its whole chunk at once (core/services/sales_batch.py); the rules stay here."""

    def products(self, session, skus: set[str]) -> dict[str, Product]:
        return {p.sku: p for p in PRODUCTS_BY_SKU.scalars(session, {"skus": list(skus)})} if skus else {}

    def staff_named(self, session, username: str) -> User | None:
        return session.scalars(select(User).where(User.username == username)).first()

    def customer_by_id(self, session, customer_id: int, store_ids=None) -> Customer | None:
        """Only a customer `store_ids` see (None: any); an id is never a capability."""
        try:
            return customer_or_404(customer_id, store_ids=store_ids, session=session)
        except NotFound:
            return None

    def customer_by_code(self, session, code: str) -> Customer | None:
        return session.scalars(select(Customer).where(Customer.code == code, Customer.erased_at.is_(None))).first()

    def customer_by_phone(self, session, phone: str) -> Customer | None:
        """Raises InvalidInput for a phone that is not one."""
        return find_by_phone(session, phone)

    def customer_created(self, customer: Customer, phone: str) -> None:
        """A profile made for an unknown phone (a batch remembers it for its later sales)."""

    def store_sees(self, session, customer: Customer, store: Store) -> bool | None:
        """Whether `store` sees `customer` when known without a query; None: ask (link_customer)."""
        return None


QUERY_EACH = Lookups()
# Built once (core/models/prepared.py): every sale asks it.
PRODUCTS_BY_SKU = Prepared(lambda dialect: select(Product).where(Product.sku.in_(bindparam("skus", expanding=True))))


def resolve_customer(session, store: Store, ref: dict | None, *, user=None, actor="system",
                     lookups: Lookups = QUERY_EACH, via: str = "sale") -> Customer | None:
    """`{"id": 1}`, `{"code": "M001"}`, `{"phone": "138..."}` (an unknown phone creates a
    profile) or None (walk-in). An id names only a customer the caller's stores see (404
    otherwise, as for no customer at all); a full card number or phone finds any customer of
    the chain, and serving them here links them to `store` (core.access, audited)."""
    if not ref:
        return None
    if ref.get("id") is not None:
        seen_by = caller_store_ids()
        customer = lookups.customer_by_id(session, int(ref["id"]), seen_by)
        if customer is None:
            raise NotFound("unknown customer", fields={"customer.id": [f"No customer {ref['id']}."]})
        if seen_by != [store.id]:  # seen by another of the caller's stores: served here, linked here
            _link(session, customer, store, lookups, via=via, user=user, actor=actor)
        return customer
    if ref.get("code"):
        customer = lookups.customer_by_code(session, ref["code"])
        if customer is None:
            raise InvalidInput("unknown customer code", fields={"customer.code": [f"No customer with code {ref['code']}."]})
        _link(session, customer, store, lookups, via=via, user=user, actor=actor)
        return customer
    if ref.get("phone"):
        try:
            customer = lookups.customer_by_phone(session, ref["phone"])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, fields={"customer.phone": exc.fields.get("phone", [])}) from exc
        if customer is None:
            customer = create_customer(session, store, {"phone": ref["phone"], "name": ref.get("name") or "",
                                                        "source_channel": "till"}, user=user, actor=actor,
                                       phone_unused=True)
            lookups.customer_created(customer, ref["phone"])
        else:
            _link(session, customer, store, lookups, via=via, user=user, actor=actor)
        return customer
    raise InvalidInput("customer needs an id, a code or a phone", fields={"customer": ["Give id, code or phone."]})


def _link(session, customer: Customer, store: Store, lookups: Lookups, **how) -> None:
    """`link_customer`, asking `lookups` whether the store sees them only when it is not their home."""
    if customer.id is not None and customer.home_store_id != store.id:
        link_customer(session, customer, store, seen=lookups.store_sees(session, customer, store), **how)


def resolve_staff(session, store: Store, username: str | None, lookups: Lookups = QUERY_EACH) -> User | None:
    if not username:
        return None
    staff = lookups.staff_named(session, username)
    if staff is None or not staff.can_access_store(store.id):
        raise InvalidInput("unknown salesperson", fields={"staff": [f"No staff member {username} in store {store.code}."]})
    return staff


def find_sale_by_external_id(session, store: Store, external_id: str | None) -> Sale | None:
    if not external_id:
        return None
    return session.scalars(select(Sale).where(Sale.store_id == store.id, Sale.external_id == external_id)).first()


def same_receipt(first_fingerprint: dict | None, data: dict) -> None:
    """A re-post of an `external_id` must be the same receipt: otherwise 422 naming the fields
    that differ, rather than answering with a first sale the till did not mean. (Sales recorded
    before fingerprints were kept cannot be compared: they are answered as before.)"""
    if first_fingerprint is None:
        return
    fields = differing(first_fingerprint, fingerprint(data))
    if fields:
        raise ExternalIdReused("this external_id was recorded with a different sale",
                               fields={name: ["Differs from the sale first recorded with this external_id."]
                                       for name in fields})


def build_sale(session, store: Store, data: dict, *, user=None, actor="system", lookups: Lookups = QUERY_EACH,
               add: bool = True) -> Sale:
    """Validate `data` and add a Sale with its lines, adjustments and payments (not flushed);
    with `add=False` the caller writes it (core/services/sale_rows.py `insert_sale`).

    Adjustments are the enabled plugins' (core/services/pricing.py): asked for through
    `options`, checked against any the till posted; a sale with neither has none."""
    lines_in = data.get("lines") or []
    products = lookups.products(session, {line["sku"] for line in lines_in})
    errors: dict[str, list[str]] = {}
    over_limit: dict[str, list[str]] = {}
    # Empty collections set here stay known-empty after the flush: plugins reading
    # sale.payments or sale.refunds do not send a query each to find nothing.
    sale = Sale(store=store, external_id=data.get("external_id"), occurred_at=data.get("occurred_at") or utcnow(),
                channel=data.get("channel") or "store", note=data.get("note"), status="completed",
                lines=[], adjustments=[], payments=[], refunds=[],
                request_fingerprint=fingerprint(data) if data.get("external_id") else None)
    cart_lines = []
    limit = pricing.discount_limit(store, user)
    for i, line_in in enumerate(lines_in):
        product = products.get(line_in["sku"])
        if product is None:
            errors[f"lines.{i}.sku"] = [f"Unknown product {line_in['sku']}."]
            continue
        quantity = Decimal(str(line_in["quantity"]))
        unit_price = money(line_in["unit_price"]) if line_in.get("unit_price") is not None else product.price
        discount = money(line_in.get("discount") or 0)
        line = pricing.cart_line(product, quantity, unit_price, discount)
        if line["amount"] < 0:
            errors[f"lines.{i}.discount"] = ["Discount is larger than the line."]
            continue
        too_much = pricing.line_discount_error(product, quantity, line["amount"], limit)
        if too_much:
            over_limit[f"lines.{i}.discount"] = [too_much]
        cart_lines.append(line)
        sale.lines.append(SaleLine(position=i, product=product, sku=product.sku, name=product.name, quantity=quantity,
                                   unit_price=unit_price, discount=discount, amount=line["amount"],
                                   unit_cost=product.cost, full_price=line["full_price"]))
    if errors:
        raise InvalidInput("the sale has invalid lines", fields=errors)
    if over_limit:
        raise Unprocessable("a line discount is over what this store allows", fields=over_limit)
    if sale.lines:
        sale.subtotal = sum((line.amount for line in sale.lines), ZERO)
    elif data.get("total") is not None:
        # History from an old system often has only a ticket total.
        sale.subtotal = money(data["total"])
    else:
        raise InvalidInput("a sale needs lines or a total", fields={"lines": ["Give at least one line."]})
    sale.staff = resolve_staff(session, store, data.get("staff"), lookups)
    sale.customer = resolve_customer(session, store, data.get("customer"), user=user, actor=actor, lookups=lookups)
    posted = data.get("adjustments")
    if posted or data.get("options") is not None:
        cart = {"lines": cart_lines, "subtotal": sale.subtotal, "options": data.get("options") or {}}
        for adj in pricing.decide_adjustments(session, store, events.registry(), cart, sale.customer, posted,
                                              user=user, actor=actor):
            sale.adjustments.append(SaleAdjustment(source=adj["source"], code=adj["code"], label=adj.get("label"),
                                                   amount=adj["amount"], data=adj.get("data") or {}))
    sale.adjustment_total = sum((a.amount for a in sale.adjustments), ZERO)
    sale.total = sale.subtotal + sale.adjustment_total
    if sale.total < 0:
        raise Unprocessable("adjustments exceed the sale's amount", fields={"adjustments": ["Total would be negative."]})
    _allocate_adjustments(sale)
    for pay in data.get("payments") or []:
        sale.payments.append(SalePayment(method=pay["method"], amount=money(pay["amount"]), data=pay.get("data") or {}))
    if sale.payments:
        paid = sum((p.amount for p in sale.payments), ZERO)
        if paid != sale.total:
            raise InvalidInput("payments do not add up to the total",
                               fields={"payments": [f"Payments add up to {paid}, the total is {sale.total}."]})
    check_sale_bounds(store, sale)
    validate_with_plugins(session, store, sale, user=user, actor=actor)
    if add:
        session.add(sale)
    return sale


def validate_with_plugins(session, store: Store, sale: Sale, *, user=None, actor="system") -> None:
    """`sale_validate` on the plugins enabled in `store`, before the sale joins the session (so
    their queries cannot flush it). A DomainError refuses the sale. Any other exception is
    logged and the sale goes through: a broken plugin must not stop the till. A database error
    is the exception to that: the transaction may be aborted (PostgreSQL), so the sale fails with
    it rather than half-write; a savepoint around each call would cost every sale two statements."""
    reg = events.registry()
    names = reg.implementers("sale_validate", reg.enabled_in(store))
    if not names:
        return
    ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=reg)
    for name in names:
        try:
            reg.caller_for("sale_validate", name)(sale=sale, customer=sale.customer, ctx=ctx.for_plugin(name))
        except (DomainError, SQLAlchemyError):
            raise
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("sale_validate of %s failed; the sale goes through unchecked by it", name)


def _allocate_adjustments(sale: Sale) -> None:
    """Spread sale-level adjustments over the lines by amount, so a line's refund gives back
    what was really paid for it (the last line takes the rounding remainder)."""
    if not sale.lines or sale.adjustment_total == 0 or sale.subtotal == 0:
        return
    remaining = sale.adjustment_total
    for line in sale.lines[:-1]:
        share = money(sale.adjustment_total * line.amount / sale.subtotal)
        line.allocated_adjustment = share
        remaining -= share
    sale.lines[-1].allocated_adjustment = remaining


def record_sale(session, store: Store, data: dict, *, user=None, actor="system") -> tuple[Sale, bool]:
    """Record a sale and deliver `sale_recorded`, committing. Returns (sale, created).

    The same `external_id` in the same store returns the first sale (created=False), also
    when two requests race: the sale's INSERT skips a receipt already recorded (its unique
    constraint decides) and the first sale is read then. No SELECT asks beforehand: a re-post
    is rare and costs the building of the sale, rolled back. A re-post the rules now refuse (the
    stock it took, a product since withdrawn) still answers with the first sale.
    The plugins' in-transaction reactions run without savepoints; should one raise, the sale
    is written again with them, and that reaction's failure is recorded and retried."""
    races = 0
    guarded = False
    while True:
        try:
            with events.optimistic(session, enabled=not guarded):
                sale = build_sale(session, store, data, user=user, actor=actor, add=False)
                if not insert_sale(session, sale):
                    raise ExternalIdTaken()
                events.emit(session, store, "sale_recorded", sale, {"sale": sale}, user=user, actor=actor,
                            core_reactions=classified(sale))
            session.commit()
            return sale, True
        except ExternalIdTaken as exc:
            session.rollback()
            return recorded_before(session, store, data, exc), False
        except events.ReactionFailed as exc:
            session.rollback()
            log.warning("%s; writing the sale again with the reaction guarded", exc)
            guarded = True
        except IntegrityError as exc:
            session.rollback()
            # Another till created the same new customer (by phone) at the same moment; once
            # more, the phone now finds that profile.
            races += 1
            if races == 2:
                return recorded_before(session, store, data, exc), False
        except Conflict as exc:
            session.rollback()
            # Another till committed this phone's new profile between our lookup and our
            # insert: once more, the lookup finds it and the sale goes to that customer.
            races += 1
            if races == 2 or not is_new_phone_race(exc):
                return recorded_before(session, store, data, exc), False
        except DomainError as exc:
            session.rollback()
            return recorded_before(session, store, data, exc), False
        except Exception:
            session.rollback()
            raise


class ExternalIdTaken(Exception):
    """The sale's INSERT found its external_id recorded in the store (never escapes)."""


def recorded_before(session, store: Store, data: dict, exc: BaseException) -> Sale:
    """The sale first recorded with `data`'s external_id, when `data` is the same receipt
    (422 naming what differs when it is not); with none, `exc` is raised again."""
    existing = find_sale_by_external_id(session, store, data.get("external_id"))
    if existing is None:
        if isinstance(exc, ExternalIdTaken):  # gone since the INSERT saw it: cannot be (sales stay)
            raise RuntimeError("the sale's external_id was taken, then not found")
        raise exc
    same_receipt(existing.request_fingerprint, data)
    return existing


def is_new_phone_race(exc: Conflict) -> bool:
    """The Conflict `create_customer` raises when the phone belongs to a profile already."""
    return "phone" in (exc.fields or {}) and "existing_id" in (exc.details or {})


def refund_sale(session, sale: Sale, data: dict, *, user=None, actor="system") -> Refund:
    """Refund some lines (`[{"sku" or "line_id", "quantity"}]`) or, without lines, all not yet refunded.

    The request is grouped per sale line first, however its lines are written (one entry or
    several, by SKU or by line id), so a line never gives back more units than it sold nor more
    money than was paid for it after its share of the sale's adjustments; more is a 422 and
    nothing is written. The caller locks the sale (concurrent refunds queue). Delivers
    `sale_refunded`; the caller commits."""
    requested = data.get("lines")
    if not sale.lines:
        if requested:
            raise Unprocessable("this sale has no lines to refund", fields={"lines": ["The sale has only a total."]})
        wanted, amount = [], sale.total - sale.refunded_total
    else:
        wanted = refund_quantities(sale, requested)
        amount = None
    if not wanted and (amount is None or amount <= 0):
        raise Unprocessable("nothing left to refund on this sale", fields={"lines": ["Everything was refunded already."]})
    given = []
    for line, qty in wanted:
        if line.refunded_quantity + qty == line.quantity:
            money_back = line.net_amount - line.refunded_amount  # the last units take the rounding remainder
        else:
            money_back = min(money(line.net_amount * qty / line.quantity), line.net_amount - line.refunded_amount)
        given.append((line, qty, max(money_back, ZERO)))
    if amount is None:
        amount = sum((m for _, _, m in given), ZERO)
    if amount > sale.total - sale.refunded_total:
        raise Unprocessable("refund exceeds what was paid", fields={"lines": [
            f"The sale took {sale.total}; {sale.refunded_total} was refunded already."]})
    # Checked: only now is anything changed.
    refund = Refund(reason=data.get("reason") or "", actor_user_id=getattr(user, "id", None), amount=amount, sale=sale)
    for line, qty, money_back in given:
        line.refunded_quantity += qty
        line.refunded_amount += money_back
        refund.lines.append(RefundLine(sale_line=line, quantity=qty, amount=money_back))
    sale.refunded_total += refund.amount
    sale.status = "refunded" if sale.refunded_total >= sale.total else "partly_refunded"
    session.add(refund)
    session.flush()
    events.emit(session, sale.store, "sale_refunded", refund, {"sale": sale, "refund": refund}, user=user, actor=actor,
                core_reactions=classified(sale))
    return refund


def refund_quantities(sale: Sale, requested: list[dict] | None) -> list[tuple[SaleLine, Decimal]]:
    """[(sale line, quantity to refund)], one entry per sale line, from the request's lines
    (by `line_id`, or by `sku` filling that SKU's lines in order) or, without lines, all that
    is left. 422 naming each request line that asks for more than is left."""
    left = {line.id: line.quantity - line.refunded_quantity for line in sale.lines}
    if not requested:
        return [(line, left[line.id]) for line in sale.lines if left[line.id] > 0]
    by_line: dict[int, Decimal] = {}
    errors: dict[str, list[str]] = {}
    # Named lines first: what they take is no longer there for a SKU asking for the rest.
    ordered = sorted(enumerate(requested), key=lambda item: item[1].get("line_id") is None)
    for i, req in ordered:
        qty = Decimal(str(req["quantity"]))
        if req.get("line_id") is not None:
            candidates = [line for line in sale.lines if line.id == req["line_id"]]
            if not candidates:
                errors[f"lines.{i}.line_id"] = [f"Line {req['line_id']} is not on this sale."]
                continue
        else:
            candidates = [line for line in sale.lines if line.sku == req.get("sku")]
            if not candidates:
                errors[f"lines.{i}.sku"] = [f"{req.get('sku')} is not on this sale."]
                continue
        available = sum((left[line.id] - by_line.get(line.id, 0) for line in candidates), Decimal(0))
        if qty > available:
            errors[f"lines.{i}.quantity"] = [f"Only {available.normalize()} left to refund."]
            continue
        for line in candidates:  # fill the SKU's lines in order
            take = min(qty, left[line.id] - by_line.get(line.id, 0))
            if take > 0:
                by_line[line.id] = by_line.get(line.id, 0) + take
                qty -= take
    if errors:
        raise Unprocessable("refund exceeds what was sold", fields=errors)
    return [(line, by_line[line.id]) for line in sale.lines if by_line.get(line.id)]


def classified(sale: Sale) -> tuple[str, ...]:
    """The buyer's classes move with each sale and refund: after the commit, from the outbox
    (core.delivery), once per customer however many of their sales a batch delivers."""
    return (events.CLASSIFICATION,) if sale.customer_id is not None else ()


def record_visit(session, store: Store, data: dict, *, user=None, actor="system") -> Visit:
    visit = Visit(store=store, occurred_at=data.get("occurred_at") or utcnow(), purpose=data.get("purpose"),
                  duration_minutes=data.get("duration_minutes"), products_viewed=data.get("products_viewed") or [],
                  notes=data.get("notes"), purchased=bool(data.get("purchased")))
    visit.staff = resolve_staff(session, store, data.get("staff"))
    visit.customer = resolve_customer(session, store, data.get("customer"), user=user, actor=actor, via="visit")
    session.add(visit)
    session.flush()
    events.emit(session, store, "visit_recorded", visit, {"visit": visit}, user=user, actor=actor)
    return visit

"""A dishonest till against the money rules (api.md, "The server decides every amount").

A hypothesis state machine posts random sales (quoted, asked through `options`, or carrying
raw adjustments with arbitrary `data`), quotes, points payments, refunds with duplicated,
partial and repeated lines (by SKU and by line id) and, on PostgreSQL, two refunds of one sale
at the same instant. After every step it checks, over every sale and member in the database:

- payments add up to the total, and the total is the subtotal plus the adjustments;
- per line, refunded quantity <= sold and refunded money <= what was paid for the line;
  per sale, refunds <= the total; the store never pays out more than it took;
- each member's points balance is the sum of its ledger, never negative;
- a recorded discount is exactly what membership's documented rule grants (an independent
  model of the rule below, not the plugin's own quote), and a points discount or payment is
  backed by the points the ledger took for it.

CI runs 20 examples of up to 15 steps on each backend (~10-25 s each). Dig deeper locally with
`MONEY_EXAMPLES=300 MONEY_STEPS=40 pytest tests/test_money_invariants.py -p no:randomly`."""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from tests.conftest import Api, enable

EXAMPLES = int(os.environ.get("MONEY_EXAMPLES", "20"))
STEPS = int(os.environ.get("MONEY_STEPS", "15"))
CENT = Decimal("0.01")
PRICES = {"LATTE-M": Decimal("28.00"), "CAKE-CHOC": Decimal("35.00"), "BEANS-1KG": Decimal("1200.00")}
POINTS_PER_YUAN = 100  # membership's default program: 100 points = ¥1, at most 50% of a ticket
REDEEM_MAX = Decimal("0.50")
STANDING_PERCENT = {"gold": Decimal("5")}  # the tiers' standing discounts as seeded: gold 5% (seed 000)
_phones = itertools.count(20_000_000)
_sales = itertools.count(1)

amounts = st.decimals(min_value=Decimal("-2000"), max_value=Decimal("50"), places=2, allow_nan=False,
                      allow_infinity=False)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)  # NUL: a 400
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | text,
                           lambda inner: st.lists(inner, max_size=2) | st.dictionaries(text, inner, max_size=2),
                           max_leaves=4)
raw_adjustment = st.fixed_dictionaries({
    "source": st.sampled_from(["membership", "campaigns", "promo", "core"]),
    "code": st.sampled_from(["points", "birthday", "member_day", "member_price", "coupon"]),
    "amount": amounts.map(str),
}, optional={"data": st.one_of(st.dictionaries(st.sampled_from(["points", "percent", "tier", "x"]), json_values, max_size=3),
                               st.fixed_dictionaries({"points": st.integers(0, 5000)})),
             "label": text})
cart_line = st.fixed_dictionaries({"sku": st.sampled_from(sorted(PRICES)), "quantity": st.integers(1, 3)})
# How a till names what it gives back: by SKU, by line id, a SKU not on the sale, or what is
# left of a line as one-unit entries of its SKU (the repeated-line over-refund of issue 19).
refund_line = st.tuples(st.sampled_from(["sku", "line_id", "foreign", "rest_in_ones"]), st.integers(0, 5), st.integers(1, 3))


def shanghai_today():
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def cents_down(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def key(adjustment: dict) -> tuple:
    return adjustment["source"], adjustment["code"], Decimal(str(adjustment["amount"]))


class DishonestTill(RuleBasedStateMachine):
    """One example: three fresh customers (a member whose birthday is today, a member, a guest)
    and a walk-in; rules post what a till could post; invariants read the whole database."""

    app = chain = backend = None  # set on a subclass by the test below

    def __init__(self):
        super().__init__()
        self.api = Api(self.app.test_client(), token=self.chain.till)
        today = shanghai_today()
        self.customers = {None: None}
        self.sales: list[int] = []
        for who, extra in (("birthday", {"birthday": f"--{today.month:02d}-{today.day:02d}"}), ("member", {}),
                           ("guest", {})):
            r = self.api.post("/customers", {"name": who, "phone": f"139{next(_phones):08d}", **extra})
            assert r.status_code == 201, r.json
            self.customers[who] = r.json["id"]
            if who != "guest":  # ¥1,000 yesterday: an ordinary member with 1,000 points
                # (not long ago: membership's points expire on their date, job or no job)
                yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).isoformat(timespec="seconds")
                self.post_sale({"customer": {"id": r.json["id"]}, "occurred_at": yesterday,
                                "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "1000.00"}]}, expect=201)
        self.birthday_used = False

    # --- helpers --------------------------------------------------------------------------------

    def post_sale(self, body: dict, expect=None):
        body = {"external_id": f"money-{next(_sales)}", **body}
        r = self.api.post("/sales", body)
        if expect is not None:
            assert r.status_code == expect, (body, r.json)
            self.sales.append(r.json["id"])
        return r

    def member(self, customer_id) -> dict | None:
        if customer_id is None:
            return None
        r = self.api.get(f"/membership/members/{customer_id}")
        assert r.status_code == 200, r.json
        return r.json

    def granted(self, who, lines: list[dict], options: dict) -> list[tuple]:
        """membership's rule as its README states it, computed here independently: the best one
        member discount (birthday week once per birthday at the tier's percent; the tier's
        standing discount, gold 5%; member price on full-price goods), then points if asked for,
        capped at 50% of the ticket after that discount and at the balance."""
        view = self.member(self.customers[who])
        if view is None or not view["member"]:
            return []
        subtotal = sum((PRICES[l["sku"]] * l["quantity"] for l in lines), Decimal("0.00"))
        grants = []
        offers = []  # the member discounts: the one largest applies, never two (the birthday week wins a tie)
        if who == "birthday" and not self.birthday_used:
            offers.append(("birthday", cents_down(subtotal * Decimal(view["tier"]["birthday_discount_percent"]) / 100)))
        standing = STANDING_PERCENT.get(view["tier"]["code"], Decimal("0"))
        if standing:
            offers.append(("tier_discount", cents_down(subtotal * standing / 100)))
        code, discount = max(offers, key=lambda offer: offer[1], default=("", Decimal("0.00")))
        if discount > 0:
            grants.append(("membership", code, -discount))
        else:
            discount = Decimal("0.00")
        requested = options.get("redeem_points")
        if requested:
            most = min(view["points_balance"], int(cents_down((subtotal - discount) * REDEEM_MAX) * POINTS_PER_YUAN))
            points = most if requested == "max" else min(int(requested), most)  # within the balance: trimmed to the cap
            if points > 0:
                grants.append(("membership", "points", -cents_down(Decimal(points) / POINTS_PER_YUAN)))
        return grants

    def counts(self) -> tuple:
        from core.extensions import db
        from core.models import Refund, Sale
        from plugins.membership.models import PointsEntry

        with self.app.app_context():
            return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Sale, Refund, PointsEntry))

    # --- rules ------------------------------------------------------------------------------------

    @rule(who=st.sampled_from(["birthday", "member", "guest", None]), lines=st.lists(cart_line, min_size=1, max_size=3),
          redeem=st.one_of(st.none(), st.integers(1, 3000), st.just("max")),
          how=st.sampled_from(["quoted", "options", "raw", "quoted+raw", "plain"]),
          raw=st.lists(raw_adjustment, min_size=1, max_size=2), pay=st.sampled_from(["none", "cash", "points"]),
          cheat_points=st.integers(0, 3))
    def sell(self, who, lines, redeem, how, raw, pay, cheat_points):
        customer_id = self.customers[who]
        options = {"redeem_points": redeem} if redeem is not None else {}
        quote_body = {"lines": lines, "options": options, **({"customer": {"id": customer_id}} if customer_id else {})}
        quote = self.api.post("/sales/quote", quote_body)
        if customer_id is not None and isinstance(redeem, int):
            view = self.member(customer_id)
            balance = view["points_balance"] if view else 0
            if redeem > balance:  # more points than the balance: a 422 naming it, quote and sale alike
                assert (quote.status_code, quote.json["error"]["balance"]) == (422, balance), quote.json
                before = self.counts()
                r = self.post_sale({"lines": lines, "customer": {"id": customer_id}, "options": options})
                assert r.status_code == 422 and self.counts() == before, r.json
                return
        assert quote.status_code == 200, quote.json
        granted = self.granted(who, lines, options)
        assert sorted(key(a) for a in quote.json["adjustments"]) == sorted(granted), (quote.json, granted)
        body = {"lines": lines, **({"customer": {"id": customer_id}} if customer_id else {})}
        posted = None
        if how in ("quoted", "quoted+raw"):
            posted = list(quote.json["adjustments"]) + (raw[:1] if how == "quoted+raw" else [])
        elif how == "raw":
            posted = raw
        if how != "plain":
            body["options"] = options
        if posted is not None:
            body["adjustments"] = posted
        honest = posted is None or sorted(map(key, posted)) == sorted(granted)
        applied = granted if (honest and how != "plain") else []
        # Paid as the till believes: a dishonest till pays what its own adjustments leave.
        believed = [key(a) for a in posted] if posted is not None else applied
        total = sum((PRICES[l["sku"]] * l["quantity"] for l in lines), Decimal("0.00")) + sum((a[2] for a in believed), Decimal(0))
        if total < 0:
            pay = "none"
        if pay == "cash":
            body["payments"] = [{"method": "cash", "amount": str(total)}]
        elif pay == "points":
            # Points as payment for part of the ticket, the till naming how many points that is.
            part = cents_down(total / 4)
            body["payments"] = [{"method": "cash", "amount": str(total - part)},
                                {"method": "points", "amount": str(part), "data": {"points": cheat_points}}]
        before = self.counts()
        r = self.post_sale(body)
        if not honest or pay == "points":
            if r.status_code != 201:
                assert r.status_code == 422, r.json
                assert self.counts() == before, "a refused sale wrote something"
                return
        else:
            assert r.status_code == 201, (body, r.json)
        sale = r.json
        self.sales.append(sale["id"])
        # What was written is exactly what the rule grants for what the till asked.
        assert sorted(map(key, sale["adjustments"])) == sorted(applied), (body, sale["adjustments"], applied)
        if ("membership", "birthday") in {(s, c) for s, c, _ in map(key, sale["adjustments"])}:
            self.birthday_used = True

    @rule(pick=st.integers(0, 50), wanted=st.lists(refund_line, max_size=4))
    @precondition(lambda self: self.sales)
    def refund(self, pick, wanted):
        sale_id = self.sales[pick % len(self.sales)]
        sale = self.api.get(f"/sales/{sale_id}").json
        lines = sale["lines"]
        body, asked = {"reason": "dishonest till"}, Counter()
        if wanted:
            body["lines"] = []
            for how, index, qty in wanted:
                line = lines[index % len(lines)]
                if how == "sku":
                    body["lines"].append({"sku": line["sku"], "quantity": qty})
                    asked[("sku", line["sku"])] += qty
                elif how == "rest_in_ones":
                    rest = int(Decimal(line["quantity"]) - Decimal(line["refunded_quantity"]))
                    body["lines"] += [{"sku": line["sku"], "quantity": 1}] * rest
                    asked[("sku", line["sku"])] += rest
                elif how == "line_id":
                    body["lines"].append({"line_id": line["id"], "quantity": qty})
                    asked[("line", line["id"])] += qty
                else:
                    body["lines"].append({"sku": "NOT-ON-SALE", "quantity": qty})
                    asked[("sku", "NOT-ON-SALE")] += qty
        left_by_sku = Counter()
        for line in lines:
            left_by_sku[line["sku"]] += Decimal(line["quantity"]) - Decimal(line["refunded_quantity"])
        left_by_line = {line["id"]: Decimal(line["quantity"]) - Decimal(line["refunded_quantity"]) for line in lines}
        # Grouped per sale line: a line id takes from its line, SKUs from what is left of theirs.
        fits = True
        for (kind, ref), qty in asked.items():
            if kind == "line":
                left_by_line[ref] -= qty
                fits &= left_by_line[ref] >= 0
                left_by_sku[next(l["sku"] for l in lines if l["id"] == ref)] -= qty
        for (kind, ref), qty in asked.items():
            if kind == "sku":
                fits &= ref in left_by_sku and left_by_sku[ref] - qty >= 0
                left_by_sku[ref] -= qty
        fits &= all(v >= 0 for v in left_by_sku.values())
        if not body.get("lines"):  # nothing named: the whole of what is left
            body.pop("lines", None)
            fits = Decimal(sale["refunded_total"]) < Decimal(sale["total"]) or any(
                Decimal(l["refunded_quantity"]) < Decimal(l["quantity"]) for l in lines)
        before = self.counts()
        r = self.api.post(f"/sales/{sale_id}/refunds", body)
        if fits:
            assert r.status_code == 201, (body, sale, r.json)
        else:
            assert r.status_code == 422, (body, sale, r.json)
            assert self.counts() == before, "a refused refund wrote something"

    @rule(pick=st.integers(0, 50))
    @precondition(lambda self: self.sales and self.backend == "postgresql")
    def two_refunds_at_once(self, pick):
        """Two tills refund the whole of one sale at the same instant: one gets it, one a 422."""
        sale_id = self.sales[pick % len(self.sales)]
        start, answers = threading.Barrier(2), []

        def post():
            client = Api(self.app.test_client(), token=self.chain.till)
            start.wait()
            answers.append(client.post(f"/sales/{sale_id}/refunds", {"reason": "race"}).status_code)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(answers) in ([201, 422], [422, 422]), answers

    @rule(who=st.sampled_from(["birthday", "member"]), points=st.integers(-500, 3000))
    def manager_adjusts_points(self, who, points):
        if points:
            r = self.api.post(f"/membership/members/{self.customers[who]}/adjustments",
                              {"points": points, "reason": "money invariants"}, token=self.chain.manager_token)
            assert r.status_code in (201, 422), r.json

    # --- invariants -------------------------------------------------------------------------------

    def loaded(self, session) -> list:
        """This example's sales with everything money about them (earlier examples' rows are
        left alone: each example is judged on its own). Compared in Python, as Decimals:
        SQLite's NUMERIC arithmetic is floating point."""
        from sqlalchemy.orm import selectinload

        from core.models import Refund, Sale

        return session.scalars(select(Sale).where(Sale.id.in_(self.sales)).options(
            selectinload(Sale.lines), selectinload(Sale.adjustments), selectinload(Sale.payments),
            selectinload(Sale.refunds).selectinload(Refund.lines))).all()

    @invariant()
    def money_adds_up(self):
        from core.extensions import db

        with self.app.app_context():
            took = gave = Decimal("0.00")
            for sale in self.loaded(db.session):
                if sale.payments:
                    assert sum(p.amount for p in sale.payments) == sale.total, f"sale {sale.id}: payments differ from the total"
                assert sale.adjustment_total == sum((a.amount for a in sale.adjustments), Decimal(0)), sale.id
                assert sale.total == sale.subtotal + sale.adjustment_total and sale.total >= 0, sale.id
                for line in sale.lines:
                    given = [rl for r in sale.refunds for rl in r.lines if rl.sale_line_id == line.id]
                    qty = sum((rl.quantity for rl in given), Decimal(0))
                    money = sum((rl.amount for rl in given), Decimal(0))
                    assert qty == line.refunded_quantity <= line.quantity, \
                        f"sale {sale.id} line {line.sku}: refunded {qty} of {line.quantity}"
                    assert 0 <= money <= line.amount + line.allocated_adjustment, \
                        f"sale {sale.id} line {line.sku}: refunded ¥{money}, paid ¥{line.amount + line.allocated_adjustment}"
                out = sum((r.amount for r in sale.refunds), Decimal("0.00"))
                assert out == sale.refunded_total <= sale.total, \
                    f"sale {sale.id}: total ¥{sale.total}, refunded ¥{out} (recorded ¥{sale.refunded_total})"
                took, gave = took + sale.total, gave + out
            assert gave <= took, f"the store paid out ¥{gave} and took ¥{took}"

    @invariant()
    def points_are_the_ledger_and_back_every_points_discount(self):
        from core.extensions import db
        from plugins.membership.models import Member, PointsEntry

        with self.app.app_context():
            s = db.session
            mine = [c for c in self.customers.values() if c is not None]
            ledger = dict(s.execute(select(PointsEntry.customer_id, func.sum(PointsEntry.points))
                                    .where(PointsEntry.customer_id.in_(mine)).group_by(PointsEntry.customer_id)).all())
            for member in s.scalars(select(Member).where(Member.customer_id.in_(mine))):
                assert member.points_balance == ledger.get(member.customer_id, 0) >= 0, \
                    f"customer {member.customer_id}: balance {member.points_balance}, ledger {ledger.get(member.customer_id)}"
            taken = Counter()
            for sale_id, points in s.execute(select(PointsEntry.sale_id, PointsEntry.points).where(
                    PointsEntry.sale_id.in_(self.sales), PointsEntry.kind == "redeem")):
                taken[sale_id] += -points
            # Money given for points (a discount or a payment) against the points the ledger took.
            for sale in self.loaded(s):
                worth = (sum((-a.amount for a in sale.adjustments if (a.source, a.code) == ("membership", "points")), Decimal(0))
                         + sale.paid_with("points"))
                needed = int((worth * POINTS_PER_YUAN).to_integral_value(rounding=ROUND_CEILING))
                assert taken[sale.id] >= needed, f"sale {sale.id}: ¥{worth} given for {taken[sale.id]} points"


def test_a_dishonest_till_cannot_make_the_store_pay_out_more_than_it_took(app, chain, backend):
    enable(app, "SH001", "membership")
    machine = type("DishonestTillHere", (DishonestTill,), {"app": app, "chain": chain, "backend": backend})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))

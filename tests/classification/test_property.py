"""Classification is a function of the data (quality.md): the same sales entered in another
order, under other customer ids, give every customer the same classes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from core.classification.models import ClassificationRun, CustomerClass
from core.extensions import db
from core.models import Activity, Customer, Sale, utcnow
from tests.classification.helpers import recompute, store

NAMES = [f"n{i}" for i in range(7)]
sales_strategy = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from([10, 25, 25, 100, 400]), st.integers(0, 500),
              st.booleans()),
    min_size=1, max_size=40)


def _load(rows, order, now, stores):
    db.session.execute(delete(Activity))
    db.session.execute(delete(CustomerClass))
    db.session.execute(delete(ClassificationRun))
    db.session.execute(delete(Sale))
    db.session.execute(delete(Customer))
    people = {}
    for name in order:
        people[name] = Customer(name=name, hobbies=[], preferences={})
        db.session.add(people[name])
    db.session.flush()
    for name, amount, days, refunded in rows:
        amount = Decimal(amount)
        db.session.add(Sale(store=stores[days % 2], customer_id=people[name].id,
                            occurred_at=now - timedelta(days=days, hours=3), subtotal=amount, total=amount,
                            adjustment_total=Decimal(0), refunded_total=amount if refunded else Decimal(0),
                            status="refunded" if refunded else "completed", channel="store"))
    db.session.commit()
    recompute(now=now)
    result = {}
    for row in db.session.query(CustomerClass).all():
        name = db.session.get(Customer, row.customer_id).name
        result[(name, row.scope_id)] = (row.amount_class, row.frequency_class, row.final_class, row.lifecycle,
                                        row.r_score, row.f_score, row.m_score, row.rfm_segment)
    return result


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=sales_strategy, seed=st.randoms(use_true_random=False))
def test_classes_depend_only_on_the_data(app, chain, rows, seed):
    now = utcnow()
    with app.app_context():
        stores = [store("SH001"), store("BJ001")]
        first = _load(rows, NAMES, now, stores)
        shuffled_rows, shuffled_names = list(rows), list(NAMES)
        seed.shuffle(shuffled_rows)
        seed.shuffle(shuffled_names)
        second = _load(shuffled_rows, shuffled_names, now, stores)
        assert first == second

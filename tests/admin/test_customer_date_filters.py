"""The customer list's created and last-purchase filters count days on the store's clock."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from core.extensions import db
from core.models import Customer, Sale, Store
from tests.admin.conftest import text

UTC = timezone.utc


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def filter_arg(app, name: str, operation: str) -> str:
    """Flask-Admin's URL argument for a filter: its place in the customer view's list."""
    admin = app.extensions["admin"][0]
    view = next(v for v in admin._views if getattr(v, "endpoint", None) == "customers")
    with app.test_request_context():
        filters = view.get_filters()
    index = next(i for i, f in enumerate(filters) if str(f.name) == name and str(f.operation()) == operation)
    return f"flt0_{index}"


def shown(client, arg: str, value: str) -> set[str]:
    response = client.get("/admin/customers/", query_string={arg: value})
    assert response.status_code == 200
    page = text(response)
    return {name for name in ("早鸟", "夜猫", "从未买过") if name in page}


def test_created_and_last_purchase_filters_use_the_stores_days(admin_env, signed_in):
    app = admin_env.app
    with app.app_context():
        sh, bj = (db.session.scalars(select(Store).where(Store.code == code)).one() for code in ("SH001", "BJ001"))

        def person(name, created, home):
            row = Customer(name=name, home_store=home, hobbies=[], preferences={}, created_at=created)
            db.session.add(row)
            db.session.flush()
            return row

        def sale(who, at, store):
            db.session.add(Sale(store=store, customer_id=who.id, occurred_at=at, subtotal=Decimal("10.00"),
                                adjustment_total=Decimal("0.00"), total=Decimal("10.00"),
                                refunded_total=Decimal("0.00"), status="completed", channel="store"))

        # 23:00 on 1 March in Shanghai, and 01:30 on 2 March in Shanghai (still 1 March in UTC).
        early = person("早鸟", utc(2026, 3, 1, 15, 0), sh)
        late = person("夜猫", utc(2026, 3, 1, 17, 30), sh)
        person("从未买过", utc(2026, 2, 1, 4, 0), sh)
        sale(early, utc(2026, 4, 9, 2, 0), sh)  # 10:00 on 9 April in Shanghai
        sale(late, utc(2026, 4, 9, 3, 0), sh)
        sale(late, utc(2026, 4, 10, 16, 30), sh)  # 00:30 on 11 April in Shanghai
        # A BJ001 sale is not in SH001's list: the manager of SH001 looks at SH001 only.
        sale(early, utc(2026, 4, 20, 2, 0), bj)
        db.session.commit()
    client = signed_in("manager")
    created_from = filter_arg(app, "Created", "from")
    created_until = filter_arg(app, "Created", "until")
    created_between = filter_arg(app, "Created", "between")
    last_from = filter_arg(app, "Last purchase", "from")
    last_until = filter_arg(app, "Last purchase", "until")
    last_between = filter_arg(app, "Last purchase", "between")

    assert shown(client, created_from, "2026-03-02") == {"夜猫"}
    assert shown(client, created_until, "2026-03-01") == {"早鸟", "从未买过"}
    assert shown(client, created_between, "2026-03-01 to 2026-03-01") == {"早鸟"}
    assert shown(client, last_from, "2026-04-11") == {"夜猫"}
    assert shown(client, last_until, "2026-04-10") == {"早鸟"}  # never bought: no last purchase to compare
    assert shown(client, last_between, "2026-04-09 to 2026-04-10") == {"早鸟"}
    assert shown(client, last_between, "2026-04-09 to 2026-04-11") == {"早鸟", "夜猫"}
    # A day that is not a date is refused by the filter, not turned into an error page.
    assert client.get("/admin/customers/", query_string={last_from: "soon"}).status_code == 200

"""`storecrm plugins new NAME`: a pip-installable plugin package that works from the first
minute: manifest and entry point, a model and its first migration, an after-sale reaction, an
API endpoint behind the visibility rule, a customer-page panel from a template, Chinese and
English, personal-data hooks, and passing tests on `storecrm.testing`'s fixtures.

The example it writes is a coffee stamp card (one stamp per unit bought); rename and reshape it.
docs/writing-plugins.md walks through every file it writes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from string import Template

FILES: dict[str, str] = {}

FILES["pyproject.toml"] = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "storecrm-$name"
version = "0.1.0"
description = "$title: a storecrm plugin"
requires-python = ">=3.11"
dependencies = ["storecrm"]

# This entry point is the whole integration: storecrm finds the plugin through it.
[project.entry-points."storecrm.plugins"]
$name = "storecrm_$name:manifest"

[tool.setuptools.packages.find]
include = ["storecrm_$name*"]

# Without these the wheel ships no migrations, templates or translations.
[tool.setuptools.package-data]
"*" = ["migrations/versions/*.py", "templates/**/*", "translations/**/*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

FILES["README.md"] = '''# storecrm-$name

$title: a storecrm plugin. Each store that switches it on gives its customers one stamp per
unit bought; a refund takes the stamps of the refunded units back.

    pip install -e .                 # into the environment where storecrm runs
    storecrm db upgrade              # creates the ${name}_stamp table
    storecrm plugins enable $name --store SH001
    # restart `storecrm run` and the workers: installed plugins are found at start-up

Tests: `pip install -e . && pytest` (fixtures from `storecrm.testing`).
'''

FILES["storecrm_$name/__init__.py"] = '''"""$name — $title (a storecrm plugin)."""

from storecrm import Manifest

manifest = Manifest(
    name="$name",
    version="0.1.0",
    summary="$title: one stamp per unit bought",
    summary_zh="集点卡：每购买一件积一个点",
    hooks="storecrm_$name.hooks",
    package="storecrm_$name",
)
'''

FILES["storecrm_$name/models.py"] = '''"""Tables of the plugin, prefixed with its name. Foreign keys may point at the core's
`customer`, `store` and `sale` tables; times are UTCDateTime (stored in UTC)."""

from storecrm import UTCDateTime, db, utcnow


class Stamp(db.Model):
    """Stamps earned (positive) or taken back (negative), one row per sale or refund event."""

    __tablename__ = "${name}_stamp"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    store_id = db.Column(db.ForeignKey("store.id"), nullable=False)
    # One row per event: a retried delivery never stamps twice.
    event_id = db.Column(db.Integer, nullable=False, unique=True)
    stamps = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
'''

FILES["storecrm_$name/migrations/versions/0001_${name}_tables.py"] = '''"""$name tables

Revision ID: ${name}_0001
Revises:
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "${name}_0001"
down_revision = None
branch_labels = ("$name",)  # the plugin's own branch: `storecrm db revision --branch $name`
depends_on = "core_0001"


def upgrade():
    op.create_table(
        "${name}_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_${name}_stamp_customer_id", "${name}_stamp", ["customer_id"])


def downgrade():
    op.drop_table("${name}_stamp")
'''

FILES["storecrm_$name/services.py"] = '''"""The plugin's rules: plain functions on a session, called by the hooks and the API."""

from sqlalchemy import delete, func, select, update

from storecrm_$name.models import Stamp


def earn(session, sale, event_id: int) -> None:
    """One stamp per unit of the sale, for a customer's sale."""
    if sale.customer_id is None or event_id is None:
        return
    units = int(sum(line.quantity for line in sale.lines))
    if units:
        session.add(Stamp(customer_id=sale.customer_id, store_id=sale.store_id, event_id=event_id, stamps=units))


def give_back(session, sale, refund, event_id: int) -> None:
    """The stamps of the refunded units go."""
    if sale.customer_id is None or event_id is None:
        return
    units = int(sum(line.quantity for line in refund.lines))
    if units:
        session.add(Stamp(customer_id=sale.customer_id, store_id=sale.store_id, event_id=event_id, stamps=-units))


def balance(session, customer_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Stamp.stamps), 0))
                              .where(Stamp.customer_id == customer_id)))


def export(session, customer_id: int) -> dict | None:
    rows = session.scalars(select(Stamp).where(Stamp.customer_id == customer_id).order_by(Stamp.id)).all()
    if not rows:
        return None
    return {"stamps": [{"stamps": r.stamps, "at": r.created_at.isoformat()} for r in rows]}


def erase(session, customer_id: int) -> None:
    session.execute(delete(Stamp).where(Stamp.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> dict:
    moved = session.execute(update(Stamp).where(Stamp.customer_id == merged_id).values(customer_id=kept_id))
    return {Stamp.__tablename__: moved.rowcount}
'''

FILES["storecrm_$name/hooks.py"] = '''"""The plugin's hooks: thin, each calls a service. See docs/hooks.md for every hook."""

from flask import render_template
from markupsafe import Markup

from storecrm import hookimpl, in_transaction
from storecrm_$name import services


@hookimpl
def register_blueprints(app):
    from storecrm_$name.api import bp

    app.register_blueprint(bp)


@hookimpl
@in_transaction  # the till's answer shows the new balance, so it runs in the sale's transaction
def sale_recorded(sale, ctx):
    services.earn(ctx.session, sale, ctx.event_id)


@hookimpl
@in_transaction
def sale_refunded(sale, refund, ctx):
    services.give_back(ctx.session, sale, refund, ctx.event_id)


@hookimpl
def sale_result(sale, ctx):
    if sale.customer_id is None:
        return None
    return {"stamps": services.balance(ctx.session, sale.customer_id)}


@hookimpl
def customer_panels(customer, ctx):
    html = render_template("$name/panel.html", stamps=services.balance(ctx.session, customer.id))
    return [{"title": "$title", "html": Markup(html), "order": 50}]


@hookimpl
def customer_export(customer, ctx):
    return services.export(ctx.session, customer.id)


@hookimpl
def customer_erased(customer_id, ctx):
    services.erase(ctx.session, customer_id)


@hookimpl
def customer_merged(kept, merged, ctx):
    return services.merge(ctx.session, kept.id, merged.id)
'''

FILES["storecrm_$name/schemas.py"] = '''from marshmallow import Schema, fields


class StampsOut(Schema):
    customer_id = fields.Integer(required=True)
    stamps = fields.Integer(required=True, metadata={"description": "stamps the customer holds"})
'''

FILES["storecrm_$name/api.py"] = '''"""/api/v1/$name/...: 404 in a store that has not switched the plugin on. Each endpoint runs in
a unit of work: it commits when it answers without an error, and rolls back otherwise."""

from storecrm import customer_or_404, db, endpoint, plugin_blueprint
from storecrm_$name import services
from storecrm_$name.schemas import StampsOut

bp = plugin_blueprint("$name", __name__)


@endpoint(bp, "/customers/<int:customer_id>/stamps", "GET", summary="A customer's stamps",
          response=StampsOut, errors=(401, 404))
def stamps(customer_id):
    customer = customer_or_404(customer_id)  # 404 for a customer the caller's store does not see
    return {"customer_id": customer.id, "stamps": services.balance(db.session, customer.id)}
'''

FILES["storecrm_$name/templates/$name/panel.html"] = '''<p class="lead">{{ _("%(n)s stamps", n=stamps) }}</p>
'''

FILES["storecrm_$name/translations/zh/LC_MESSAGES/messages.po"] = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: zh\\n"

msgid "%(n)s stamps"
msgstr "%(n)s 个点"
'''

FILES["tests/conftest.py"] = '''import pytest


@pytest.fixture
def storecrm_plugins():
    """Load only this plugin: whatever else is installed stays out of its tests."""
    return ["$name"]
'''

FILES["tests/test_$name.py"] = '''"""$title, tested the way a store uses it: a till, a refund, the API, erasure."""


def test_a_sale_earns_a_stamp_per_unit_and_a_refund_takes_them_back(storecrm_shop):
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 2}, {"sku": "MUFFIN", "quantity": 1}],
                              phone="13800000001")
    assert sale["effects"]["$name"] == {"stamps": 3}
    refund = storecrm_shop.refund(sale["id"], [{"sku": "LATTE", "quantity": 1}])
    assert refund["effects"]["$name"] == {"stamps": 2}


def test_the_api_answers_for_customers_the_store_sees_only(storecrm_shop):
    sale = storecrm_shop.sale([{"sku": "BEANS", "quantity": 1}], phone="13800000002")
    answer = storecrm_shop.client("manager").get(f"/api/v1/$name/customers/{sale['customer_id']}/stamps")
    assert answer.status_code == 200 and answer.get_json() == {"customer_id": sale["customer_id"], "stamps": 1}
    assert storecrm_shop.client("manager").get("/api/v1/$name/customers/999999/stamps").status_code == 404


def test_switched_off_in_the_store_means_404_and_no_stamps(storecrm_shop):
    assert storecrm_shop.cli("plugins", "disable", "$name", "--store", "TEST01").exit_code == 0
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 1}], phone="13800000003")
    assert "$name" not in sale["effects"]
    url = f"/api/v1/$name/customers/{sale['customer_id']}/stamps"
    assert storecrm_shop.client("manager").get(url).status_code == 404


def test_an_erased_customer_leaves_no_trace(storecrm_shop, storecrm_assert_erased):
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 1}], phone="13800000004")
    answer = storecrm_shop.client("manager").delete(f"/api/v1/customers/{sale['customer_id']}")
    assert answer.status_code == 200, answer.get_json()
    storecrm_assert_erased(sale["customer_id"], plugin="$name")
'''


def render(name: str, title: str | None = None) -> dict[str, str]:
    """{relative path: content} of the package for plugin `name`."""
    if not name.isidentifier() or not name.islower():
        raise ValueError(f"a plugin name is a lowercase Python identifier (e.g. stampcard), not {name!r}")
    values = {"name": name, "title": title or name.replace("_", " ").capitalize()}
    return {Template(path).substitute(values): Template(text).substitute(values) for path, text in FILES.items()}


def write(name: str, target: str | os.PathLike, title: str | None = None) -> Path:
    """Write the package into `target`/storecrm-NAME (which must not exist); returns its path."""
    root = Path(target) / f"storecrm-{name}"
    if root.exists():
        raise FileExistsError(f"{root} exists already")
    for path, text in render(name, title).items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    _compile_catalogues(root)
    return root


def _compile_catalogues(root: Path) -> None:
    """messages.po -> messages.mo, so the Chinese strings work before anyone runs pybabel."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in root.rglob("messages.po"):
        with open(po, "rb") as f:
            catalog = read_po(f)
        # The same .po always gives the same .mo (no "created now" header): reproducible builds.
        catalog.creation_date = catalog.revision_date = datetime(2026, 1, 1, tzinfo=UTC)
        with open(po.with_suffix(".mo"), "wb") as f:
            write_mo(f, catalog)

"""customer: a keyed hash of the phone's last four digits, for the counter's short lookup

Revision ID: core_0015_counter13_phone_last4
Revises: core_0014_till_config_version
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0015_counter13_phone_last4"
down_revision = "core_0014_till_config_version"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("phone_last4_hash", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_customer_phone_last4_hash"), ["phone_last4_hash"], unique=False)
    _fill()


def _fill():
    """Existing phones are encrypted: hash their last four digits with the app's key, in batches
    (once; `set_phone` keeps the column from now on)."""
    from flask import has_app_context

    if not has_app_context():
        return  # offline SQL generation: the rotation command fills it later
    from core.crypto import cipher
    from core.models.customer import last4_key

    bind = op.get_bind()
    customer = sa.table("customer", sa.column("id", sa.Integer), sa.column("phone", sa.Text),
                        sa.column("phone_last4_hash", sa.String))
    data = cipher()
    last = 0
    while True:
        rows = bind.execute(sa.select(customer.c.id, customer.c.phone)
                            .where(customer.c.id > last, customer.c.phone.is_not(None))
                            .order_by(customer.c.id).limit(BATCH)).all()
        if not rows:
            break
        for customer_id, token in rows:
            bind.execute(customer.update().where(customer.c.id == customer_id).values(
                phone_last4_hash=data.lookup_hash(last4_key(data.decrypt(token)))))
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table("customer") as batch:
        batch.drop_index(op.f("ix_customer_phone_last4_hash"))
        batch.drop_column("phone_last4_hash")

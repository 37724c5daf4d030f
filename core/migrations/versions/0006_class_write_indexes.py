"""classification: drop the customer_class indexes on last purchase and purchases

The per-sale update ranked a customer by counting better customers through them; it now
compares with the stored cuts (core_0005), and nothing else reads them. Each one cost every
nightly write and every sale's upsert; (scope_id, amount) stays for the reasons' live rank.

Revision ID: core_0006_class_write_indexes
Revises: core_0005_classification_cuts
"""
from alembic import op

revision = "core_0006_class_write_indexes"
down_revision = "core_0005_classification_cuts"
branch_labels = None
depends_on = None

DROPPED = [("last", "last_purchase_at"), ("purchases", "purchases")]


def upgrade():
    for name, _column in DROPPED:
        op.drop_index(f"ix_customer_class_scope_{name}", table_name="customer_class")


def downgrade():
    for name, column in DROPPED:
        op.create_index(f"ix_customer_class_scope_{name}", "customer_class", ["scope_id", column], unique=False)

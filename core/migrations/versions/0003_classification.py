"""classification: settings per store and chain, customer classes per scope, last runs

Revision ID: core_0003_classification
Revises: core_0002_privacy
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0003_classification"
down_revision = "core_0002_privacy"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "classification_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name=op.f("fk_classification_settings_store_id_store"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classification_settings")),
        sa.UniqueConstraint("store_id", name=op.f("uq_classification_settings_store_id")),
    )
    op.create_table(
        "customer_class",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("first_purchase_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("last_purchase_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("purchases_ever", sa.Integer(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("usual_gap_days", sa.Float(), nullable=True),
        sa.Column("amount_class", sa.String(length=16), nullable=False),
        sa.Column("frequency_class", sa.String(length=16), nullable=False),
        sa.Column("final_class", sa.String(length=16), nullable=False),
        sa.Column("lifecycle", sa.String(length=16), nullable=False),
        sa.Column("r_score", sa.SmallInteger(), nullable=False),
        sa.Column("f_score", sa.SmallInteger(), nullable=False),
        sa.Column("m_score", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_segment", sa.String(length=24), nullable=False),
        sa.Column("computed_at", core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_customer_class_customer_id_customer"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", "scope_id", name=op.f("pk_customer_class")),
    )
    for name, column in [("amount", "amount"), ("last", "last_purchase_at"), ("purchases", "purchases")]:
        op.create_index(f"ix_customer_class_scope_{name}", "customer_class", ["scope_id", column], unique=False)
    op.create_table(
        "classification_run",
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("at_risk_gap_days", sa.Integer(), nullable=True),
        sa.Column("churned_gap_days", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("scope_id", name=op.f("pk_classification_run")),
    )


def downgrade():
    op.drop_table("classification_run")
    for name in ("amount", "last", "purchases"):
        op.drop_index(f"ix_customer_class_scope_{name}", table_name="customer_class")
    op.drop_table("customer_class")
    op.drop_table("classification_settings")

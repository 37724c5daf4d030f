"""till path: one configuration version, bumped with every configuration change, so each
process caches tokens, stores, enabled plugins and settings and checks them in one SELECT

Revision ID: core_0014_till_config_version
Revises: core_0013_money_refund_bounds
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0014_till_config_version"
down_revision = "core_0013_money_refund_bounds"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 1}])


def downgrade():
    op.drop_table("config_version")

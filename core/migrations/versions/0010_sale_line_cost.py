"""sale line cost: the product's cost when it was sold, for gross profit

Revision ID: core_0010_sale_line_cost
Revises: core_0009_job_lock
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0010_sale_line_cost"
down_revision = "core_0009_job_lock"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sale_line") as batch:
        batch.add_column(sa.Column("unit_cost", sa.Numeric(12, 2), nullable=True))
    # Past lines take today's catalogue cost: the best figure there is for history.
    op.execute("UPDATE sale_line SET unit_cost = (SELECT cost FROM product WHERE product.id = sale_line.product_id)")


def downgrade():
    with op.batch_alter_table("sale_line") as batch:
        batch.drop_column("unit_cost")

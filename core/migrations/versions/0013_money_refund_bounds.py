"""money: refunds bounded per sale line by CHECK constraints; line discount limits per store

Revision ID: core_0013_money_refund_bounds
Revises: core_0012_hardening_sessions
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0013_money_refund_bounds"
down_revision = "core_0012_hardening_sessions"
branch_labels = None
depends_on = None


# op.f(): the names are final; the metadata's naming convention must not prefix them again.


def upgrade():
    with op.batch_alter_table("sale_line") as batch:
        batch.add_column(sa.Column("refunded_amount", sa.Numeric(12, 2), nullable=False, server_default="0"))
    # What past refunds gave back per line, so the bound below holds for history too.
    op.execute("UPDATE sale_line SET refunded_amount = COALESCE((SELECT SUM(refund_line.amount) FROM refund_line "
               "WHERE refund_line.sale_line_id = sale_line.id), 0)")
    # Rows written by the over-refund bug (issue 19) would break the constraints: cap them at
    # what was sold and paid, so the upgrade succeeds and the figures read true from now on.
    op.execute("UPDATE sale_line SET refunded_quantity = quantity WHERE refunded_quantity > quantity")
    op.execute("UPDATE sale_line SET refunded_amount = amount + allocated_adjustment "
               "WHERE refunded_amount > amount + allocated_adjustment")
    op.execute("UPDATE sale SET refunded_total = total WHERE refunded_total > total")
    with op.batch_alter_table("sale_line") as batch:
        batch.create_check_constraint(op.f("ck_sale_line_refunded_within_quantity"),
                                      "refunded_quantity >= 0 AND refunded_quantity <= quantity")
        batch.create_check_constraint(op.f("ck_sale_line_refunded_within_paid"),
                                      "refunded_amount >= 0 AND refunded_amount <= amount + allocated_adjustment")
    with op.batch_alter_table("sale") as batch:
        batch.create_check_constraint(op.f("ck_sale_refunded_within_total"), "refunded_total >= 0 AND refunded_total <= total")
    with op.batch_alter_table("refund_line") as batch:
        batch.create_check_constraint(op.f("ck_refund_line_positive"), "quantity > 0 AND amount >= 0")
    with op.batch_alter_table("store") as batch:
        batch.add_column(sa.Column("staff_discount_limit_percent", sa.Numeric(5, 2), nullable=True))
        batch.add_column(sa.Column("manager_discount_limit_percent", sa.Numeric(5, 2), nullable=True))


def downgrade():
    with op.batch_alter_table("store") as batch:
        batch.drop_column("manager_discount_limit_percent")
        batch.drop_column("staff_discount_limit_percent")
    with op.batch_alter_table("refund_line") as batch:
        batch.drop_constraint(op.f("ck_refund_line_positive"), type_="check")
    with op.batch_alter_table("sale") as batch:
        batch.drop_constraint(op.f("ck_sale_refunded_within_total"), type_="check")
    with op.batch_alter_table("sale_line") as batch:
        batch.drop_constraint(op.f("ck_sale_line_refunded_within_paid"), type_="check")
        batch.drop_constraint(op.f("ck_sale_line_refunded_within_quantity"), type_="check")
        batch.drop_column("refunded_amount")

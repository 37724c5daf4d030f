"""membership: qualification by purchases, the configuration version, each member's purchase count

`membership_program.qualify_by` (spend | purchases | either), `membership_program.config_version`
(bumped with every change to the program, a tier or a member day: processes cache the
configuration and compare this number), `membership_tier.min_purchases`, and
`membership_member.purchase_count` counted from the spend rows (sales with a positive net).

Revision ID: membership_0003_rules
Revises: membership_0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = 'membership_0003_rules'
down_revision = 'membership_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_program', schema=None) as batch:
        batch.add_column(sa.Column('qualify_by', sa.String(length=16), nullable=False, server_default='spend'))
        batch.add_column(sa.Column('config_version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('membership_tier', schema=None) as batch:
        batch.add_column(sa.Column('min_purchases', sa.Integer(), nullable=True))
    with op.batch_alter_table('membership_member', schema=None) as batch:
        batch.add_column(sa.Column('purchase_count', sa.Integer(), nullable=False, server_default='0'))
    # Seed 000's tiers get a purchase count too (ours: 10, 30, 50), used only when the owner
    # switches qualification to purchases or either.
    for code, count in (("ordinary", 10), ("silver", 30), ("gold", 50)):
        op.execute(f"UPDATE membership_tier SET min_purchases = {count} WHERE code = '{code}'")
    op.execute(
        "UPDATE membership_member SET purchase_count = (SELECT count(DISTINCT sp.sale_id) FROM membership_spend sp"
        " WHERE sp.customer_id = membership_member.customer_id AND sp.sale_id IS NOT NULL"
        " AND (SELECT sum(s2.amount) FROM membership_spend s2 WHERE s2.customer_id = sp.customer_id"
        " AND s2.sale_id = sp.sale_id) > 0)")


def downgrade():
    with op.batch_alter_table('membership_member', schema=None) as batch:
        batch.drop_column('purchase_count')
    with op.batch_alter_table('membership_tier', schema=None) as batch:
        batch.drop_column('min_purchases')
    with op.batch_alter_table('membership_program', schema=None) as batch:
        batch.drop_column('config_version')
        batch.drop_column('qualify_by')

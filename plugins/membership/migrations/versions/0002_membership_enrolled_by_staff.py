"""membership_member: the store, salesperson and sale an enrolment is credited to

Existing members enrolled by spend are credited to the sale whose counted spend has the
enrolment's time (the crossing sale); members enrolled by hand before this revision stay
uncredited (who enrolled them was only written to the audit log).

Revision ID: membership_0002
Revises: membership_0001
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = 'membership_0002'
down_revision = 'membership_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_member', schema=None) as batch:
        batch.add_column(sa.Column('enrolled_store_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('enrolled_staff_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('enrolled_sale_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_membership_member_enrolled_store_id_store'), 'store',
                                 ['enrolled_store_id'], ['id'], ondelete='SET NULL')
        batch.create_foreign_key(op.f('fk_membership_member_enrolled_staff_id_user_account'), 'user_account',
                                 ['enrolled_staff_id'], ['id'], ondelete='SET NULL')
        batch.create_foreign_key(op.f('fk_membership_member_enrolled_sale_id_sale'), 'sale',
                                 ['enrolled_sale_id'], ['id'], ondelete='SET NULL')
        batch.create_index(op.f('ix_membership_member_enrolled_staff_id'), ['enrolled_staff_id'], unique=False)
    op.execute(
        "UPDATE membership_member SET enrolled_sale_id = (SELECT min(sp.sale_id) FROM membership_spend sp"
        " WHERE sp.customer_id = membership_member.customer_id AND sp.occurred_at = membership_member.enrolled_at"
        " AND sp.sale_id IS NOT NULL) WHERE enrolled_by = 'spend' AND enrolled_at IS NOT NULL")
    op.execute(
        "UPDATE membership_member SET"
        " enrolled_store_id = (SELECT s.store_id FROM sale s WHERE s.id = membership_member.enrolled_sale_id),"
        " enrolled_staff_id = (SELECT s.staff_id FROM sale s WHERE s.id = membership_member.enrolled_sale_id)"
        " WHERE enrolled_sale_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('membership_member', schema=None) as batch:
        batch.drop_index(op.f('ix_membership_member_enrolled_staff_id'))
        batch.drop_constraint(op.f('fk_membership_member_enrolled_sale_id_sale'), type_='foreignkey')
        batch.drop_constraint(op.f('fk_membership_member_enrolled_staff_id_user_account'), type_='foreignkey')
        batch.drop_constraint(op.f('fk_membership_member_enrolled_store_id_store'), type_='foreignkey')
        batch.drop_column('enrolled_sale_id')
        batch.drop_column('enrolled_staff_id')
        batch.drop_column('enrolled_store_id')

"""staff_kpi_sale_fact: per counted sale, the customer's next sale here and first-purchase flag

Revision ID: staff_kpi_0002
Revises: staff_kpi_0001
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
import core.models.types


revision = 'staff_kpi_0002'
down_revision = 'staff_kpi_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_kpi_sale_fact',
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('next_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('first_ever', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_staff_kpi_sale_fact_sale_id_sale'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_staff_kpi_sale_fact_store_id_store'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_staff_kpi_sale_fact_staff_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_staff_kpi_sale_fact_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sale_id', name=op.f('pk_staff_kpi_sale_fact'))
    )
    op.create_index('ix_staff_kpi_sale_fact_store_time', 'staff_kpi_sale_fact', ['store_id', 'occurred_at'], unique=False)
    op.create_index('ix_staff_kpi_sale_fact_customer', 'staff_kpi_sale_fact', ['customer_id'], unique=False)


def downgrade():
    op.drop_index('ix_staff_kpi_sale_fact_customer', table_name='staff_kpi_sale_fact')
    op.drop_index('ix_staff_kpi_sale_fact_store_time', table_name='staff_kpi_sale_fact')
    op.drop_table('staff_kpi_sale_fact')

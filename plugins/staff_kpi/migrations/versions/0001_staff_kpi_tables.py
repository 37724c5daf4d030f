"""staff_kpi tables: daily roll-up, per-store lock row, monthly targets

Revision ID: staff_kpi_0001
Revises:
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
import core.models.types


revision = 'staff_kpi_0001'
down_revision = None
branch_labels = ('staff_kpi',)
depends_on = 'core_0010_sale_line_cost'


def upgrade():
    op.create_table('staff_kpi_daily',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('units', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('costed_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=5), nullable=False),
    sa.Column('uncosted_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_staff_kpi_daily_staff_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_staff_kpi_daily_store_id_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_kpi_daily'))
    )
    op.create_index('ix_staff_kpi_daily_store_day', 'staff_kpi_daily', ['store_id', 'day'], unique=False)
    op.create_index('ix_staff_kpi_daily_staff_day', 'staff_kpi_daily', ['staff_id', 'day'], unique=False)
    op.create_table('staff_kpi_store_state',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('rebuilt_at', core.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_staff_kpi_store_state_store_id_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', name=op.f('pk_staff_kpi_store_state'))
    )
    op.create_table('staff_kpi_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.Column('updated_at', core.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_staff_kpi_target_store_id_store'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_staff_kpi_target_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_kpi_target')),
    sa.UniqueConstraint('store_id', 'user_id', 'month', name='uq_staff_kpi_target_store_user_month')
    )
    op.create_index(op.f('ix_staff_kpi_target_store_id'), 'staff_kpi_target', ['store_id'], unique=False)
    op.create_index(op.f('ix_staff_kpi_target_user_id'), 'staff_kpi_target', ['user_id'], unique=False)


def downgrade():
    op.drop_table('staff_kpi_target')
    op.drop_table('staff_kpi_store_state')
    op.drop_index('ix_staff_kpi_daily_staff_day', table_name='staff_kpi_daily')
    op.drop_index('ix_staff_kpi_daily_store_day', table_name='staff_kpi_daily')
    op.drop_table('staff_kpi_daily')

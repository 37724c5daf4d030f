"""membership: drop `membership_program.config_version`

The program, its tiers and member days are configuration records of the core's cache
(core/config_cache.py): the core's configuration version replaces the plugin's own.

Revision ID: membership_0005_no_cfg_version
Revises: membership_0004_perks_rewards
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = 'membership_0005_no_cfg_version'
down_revision = 'membership_0004_perks_rewards'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_program', schema=None) as batch:
        batch.drop_column('config_version')


def downgrade():
    with op.batch_alter_table('membership_program', schema=None) as batch:
        batch.add_column(sa.Column('config_version', sa.Integer(), nullable=False, server_default='1'))

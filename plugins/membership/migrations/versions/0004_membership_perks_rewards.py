"""membership: the standing tier discount, the yearly gift, member events, the rewards catalogue

Existing gold tiers get the documented 5% standing discount (plugins/membership/README.md,
"Perks that act"); other tiers none.

Revision ID: membership_0004_perks_rewards
Revises: membership_0003_rules
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

import core.models.types


revision = 'membership_0004_perks_rewards'
down_revision = 'membership_0003_rules'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_tier', schema=None) as batch:
        batch.add_column(sa.Column('standing_discount_percent', sa.Numeric(5, 2), nullable=False,
                                   server_default='0'))
    op.execute("UPDATE membership_tier SET standing_discount_percent = 5 WHERE code = 'gold'")
    op.create_table(
        'membership_reward',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_reward')),
    )
    op.create_table(
        'membership_reward_redemption',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('reward_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('stock_kept', sa.Boolean(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('return_entry_id', sa.Integer(), nullable=True),
        sa.Column('points_returned', sa.Integer(), nullable=False),
        sa.Column('points_expired', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
        sa.Column('returned_at', core.models.types.UTCDateTime(), nullable=True),
        sa.Column('return_reason', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'],
                                name=op.f('fk_membership_reward_redemption_customer_id_customer'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reward_id'], ['membership_reward.id'],
                                name=op.f('fk_membership_reward_redemption_reward_id_membership_reward'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['entry_id'], ['membership_points_entry.id'],
                                name=op.f('fk_membership_reward_redemption_entry_id_membership_points_entry'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['return_entry_id'], ['membership_points_entry.id'],
                                name=op.f('fk_membership_reward_redemption_return_entry_id_membership_points_entry'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['store_id'], ['store.id'],
                                name=op.f('fk_membership_reward_redemption_store_id_store'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['actor_user_id'], ['user_account.id'],
                                name=op.f('fk_membership_reward_redemption_actor_user_id_user_account'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_reward_redemption')),
    )
    op.create_index('ix_membership_reward_redemption_customer', 'membership_reward_redemption',
                    ['customer_id', 'id'], unique=False)
    op.create_index(op.f('ix_membership_reward_redemption_reward_id'), 'membership_reward_redemption',
                    ['reward_id'], unique=False)
    op.create_table(
        'membership_gift_plan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tier_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('value', sa.Numeric(12, 2), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['tier_id'], ['membership_tier.id'],
                                name=op.f('fk_membership_gift_plan_tier_id_membership_tier'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_gift_plan')),
        sa.UniqueConstraint('tier_id', name=op.f('uq_membership_gift_plan_tier_id')),
    )
    op.create_table(
        'membership_gift',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('value', sa.Numeric(12, 2), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('issued_at', core.models.types.UTCDateTime(), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('sale_id', sa.Integer(), nullable=True),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('redeemed_at', core.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_membership_gift_customer_id_customer'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['plan_id'], ['membership_gift_plan.id'],
                                name=op.f('fk_membership_gift_plan_id_membership_gift_plan'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_membership_gift_sale_id_sale'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_membership_gift_store_id_store'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_gift')),
        sa.UniqueConstraint('customer_id', 'year', name='uq_membership_gift_customer_year'),
    )
    op.create_index(op.f('ix_membership_gift_sale_id'), 'membership_gift', ['sale_id'], unique=False)
    op.create_table(
        'membership_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('starts_at', core.models.types.UTCDateTime(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('lowest_tier_id', sa.Integer(), nullable=False),
        sa.Column('registration_opens_at', core.models.types.UTCDateTime(), nullable=False),
        sa.Column('tier_lead_days', sa.SmallInteger(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_membership_event_store_id_store'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['lowest_tier_id'], ['membership_tier.id'],
                                name=op.f('fk_membership_event_lowest_tier_id_membership_tier'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_event')),
    )
    op.create_table(
        'membership_event_invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('tier_id', sa.Integer(), nullable=True),
        sa.Column('opens_at', core.models.types.UTCDateTime(), nullable=False),
        sa.Column('notified', sa.Boolean(), nullable=False),
        sa.Column('invited_at', core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['membership_event.id'],
                                name=op.f('fk_membership_event_invitation_event_id_membership_event'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'],
                                name=op.f('fk_membership_event_invitation_customer_id_customer'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tier_id'], ['membership_tier.id'],
                                name=op.f('fk_membership_event_invitation_tier_id_membership_tier'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_event_invitation')),
        sa.UniqueConstraint('event_id', 'customer_id', name='uq_membership_event_invitation'),
    )
    op.create_index(op.f('ix_membership_event_invitation_customer_id'), 'membership_event_invitation',
                    ['customer_id'], unique=False)
    op.create_table(
        'membership_event_registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('registered_at', core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['membership_event.id'],
                                name=op.f('fk_membership_event_registration_event_id_membership_event'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'],
                                name=op.f('fk_membership_event_registration_customer_id_customer'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_event_registration')),
        sa.UniqueConstraint('event_id', 'customer_id', name='uq_membership_event_registration'),
    )
    op.create_index(op.f('ix_membership_event_registration_customer_id'), 'membership_event_registration',
                    ['customer_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_membership_event_registration_customer_id'), table_name='membership_event_registration')
    op.drop_table('membership_event_registration')
    op.drop_index(op.f('ix_membership_event_invitation_customer_id'), table_name='membership_event_invitation')
    op.drop_table('membership_event_invitation')
    op.drop_table('membership_event')
    op.drop_index(op.f('ix_membership_gift_sale_id'), table_name='membership_gift')
    op.drop_table('membership_gift')
    op.drop_table('membership_gift_plan')
    op.drop_index(op.f('ix_membership_reward_redemption_reward_id'), table_name='membership_reward_redemption')
    op.drop_index('ix_membership_reward_redemption_customer', table_name='membership_reward_redemption')
    op.drop_table('membership_reward_redemption')
    op.drop_table('membership_reward')
    with op.batch_alter_table('membership_tier', schema=None) as batch:
        batch.drop_column('standing_discount_percent')

"""feedback tables

Revision ID: feedback_0001
Revises:
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
import core.models.types


revision = 'feedback_0001'
down_revision = None
branch_labels = ('feedback',)
depends_on = 'core_0001'

UTC = core.models.types.UTCDateTime


def upgrade():
    op.create_table('feedback_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('sale_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_feedback_entry_store_id_store'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_feedback_entry_customer_id_customer'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_feedback_entry_sale_id_sale'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_feedback_entry_staff_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_entry'))
    )
    op.create_index('ix_feedback_entry_store_time', 'feedback_entry', ['store_id', 'created_at'])
    op.create_index('ix_feedback_entry_staff_time', 'feedback_entry', ['staff_id', 'created_at'])
    op.create_index('ix_feedback_entry_customer', 'feedback_entry', ['customer_id'])
    op.create_index('ix_feedback_entry_ip', 'feedback_entry', ['ip_hash', 'created_at'])

    op.create_table('feedback_complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('sale_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('first_response_due_at', UTC(), nullable=False),
    sa.Column('resolution_due_at', UTC(), nullable=False),
    sa.Column('first_response_at', UTC(), nullable=True),
    sa.Column('first_responder_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', UTC(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', UTC(), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.JSON(), nullable=False),
    sa.Column('acknowledgement', sa.String(length=16), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_feedback_complaint_store_id_store'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_feedback_complaint_customer_id_customer'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_feedback_complaint_sale_id_sale'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_feedback_complaint_staff_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['assignee_id'], ['user_account.id'], name=op.f('fk_feedback_complaint_assignee_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['first_responder_id'], ['user_account.id'], name=op.f('fk_feedback_complaint_first_responder_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['handled_by_id'], ['user_account.id'], name=op.f('fk_feedback_complaint_handled_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_complaint'))
    )
    op.create_index('ix_feedback_complaint_store_state', 'feedback_complaint', ['store_id', 'state'])
    op.create_index('ix_feedback_complaint_customer', 'feedback_complaint', ['customer_id', 'id'])
    op.create_index('ix_feedback_complaint_handler', 'feedback_complaint', ['handled_by_id', 'resolved_at'])

    op.create_table('feedback_complaint_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', UTC(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['feedback_complaint.id'], name=op.f('fk_feedback_complaint_transition_complaint_id_feedback_complaint'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['user_account.id'], name=op.f('fk_feedback_complaint_transition_actor_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_complaint_transition'))
    )
    op.create_index(op.f('ix_feedback_complaint_transition_complaint_id'), 'feedback_complaint_transition', ['complaint_id'])

    op.create_table('feedback_breach_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', UTC(), nullable=False),
    sa.Column('raised_at', UTC(), nullable=False),
    sa.Column('notified', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['feedback_complaint.id'], name=op.f('fk_feedback_breach_alert_complaint_id_feedback_complaint'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_feedback_breach_alert_store_id_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_breach_alert')),
    sa.UniqueConstraint('complaint_id', 'kind', name='uq_feedback_breach_alert_complaint_kind')
    )
    op.create_index('ix_feedback_breach_alert_store', 'feedback_breach_alert', ['store_id', 'raised_at'])

    op.create_table('feedback_survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('sale_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('reason_at', UTC(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sent_at', UTC(), nullable=True),
    sa.Column('answered_at', UTC(), nullable=True),
    sa.Column('feedback_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_feedback_survey_store_id_store'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_feedback_survey_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_feedback_survey_sale_id_sale'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['complaint_id'], ['feedback_complaint.id'], name=op.f('fk_feedback_survey_complaint_id_feedback_complaint'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_feedback_survey_staff_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback_entry.id'], name=op.f('fk_feedback_survey_feedback_id_feedback_entry'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_survey')),
    sa.UniqueConstraint('sale_id', name='uq_feedback_survey_sale'),
    sa.UniqueConstraint('complaint_id', name='uq_feedback_survey_complaint')
    )
    op.create_index('ix_feedback_survey_state', 'feedback_survey', ['state', 'store_id'])
    op.create_index('ix_feedback_survey_customer', 'feedback_survey', ['customer_id', 'sent_at'])


def downgrade():
    op.drop_table('feedback_survey')
    op.drop_table('feedback_breach_alert')
    op.drop_table('feedback_complaint_transition')
    op.drop_table('feedback_complaint')
    op.drop_table('feedback_entry')

"""dated memberships (practice -> PCN periods) and practices' commissioner history; the lookup
that gave a commissioner its system

Revision ID: 0016_dated
Revises: 0015_yearly
Create Date: 2026-12-04 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016_dated'
down_revision = '0015_yearly'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'membership_period',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_code', sa.String(length=6), nullable=False),
        sa.Column('pcn_code', sa.String(length=16), nullable=False),
        sa.Column('pcn_name', sa.String(length=200), nullable=False),
        sa.Column('practice_commissioner', sa.String(length=5), nullable=False),
        sa.Column('pcn_commissioner', sa.String(length=5), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('change_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR start_date <= end_date',
                           name=op.f('ck_membership_period_dates')),
        sa.ForeignKeyConstraint(['round_id'], ['registration_round.id'],
                                name=op.f('fk_membership_period_round_id_registration_round')),
        sa.ForeignKeyConstraint(['change_id'], ['membership_change.id'],
                                name=op.f('fk_membership_period_change_id_membership_change')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_period')),
    )
    op.create_index('ix_membership_period_practice', 'membership_period', ['practice_code'])
    op.create_index('ix_membership_period_source', 'membership_period', ['source'])
    op.create_table(
        'commissioner_period',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_code', sa.String(length=6), nullable=False),
        sa.Column('commissioner_code', sa.String(length=5), nullable=False),
        sa.Column('kind', sa.String(length=7), nullable=True),
        sa.Column('system_code', sa.String(length=16), nullable=True),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.CheckConstraint("kind IS NULL OR kind IN ('ccg', 'sub_icb')", name=op.f('ck_commissioner_period_kind')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commissioner_period')),
    )
    op.create_index('ix_commissioner_period_practice', 'commissioner_period', ['practice_code'])
    with op.batch_alter_table('commissioner') as batch:
        batch.add_column(sa.Column('lookup', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('commissioner') as batch:
        batch.drop_column('lookup')
    op.drop_index('ix_commissioner_period_practice', table_name='commissioner_period')
    op.drop_table('commissioner_period')
    op.drop_index('ix_membership_period_source', table_name='membership_period')
    op.drop_index('ix_membership_period_practice', table_name='membership_period')
    op.drop_table('membership_period')

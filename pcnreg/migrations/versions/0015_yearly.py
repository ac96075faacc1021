"""in-year membership changes in the browser: assignments after the LMC's engagement

Revision ID: 0015_yearly
Revises: 0014_lineage
Create Date: 2026-12-04 03:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_yearly'
down_revision = '0014_lineage'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_change') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='notice'))
        batch.add_column(sa.Column('lmc_engaged_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('lmc_engagement', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('membership_change') as batch:
        batch.drop_column('lmc_engagement')
        batch.drop_column('lmc_engaged_on')
        batch.drop_column('kind')

"""in-year membership changes in the browser (assignments after the LMC's engagement); a PCN paid
into its own account

Revision ID: 0015_yearly
Revises: 0014_lineage
Create Date: 2026-12-04 03:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015_yearly'
down_revision = '0014_lineage'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('membership_change') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='notice'))
        batch.add_column(sa.Column('lmc_engaged_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('lmc_engagement', sa.Text(), nullable=True))
    with op.batch_alter_table('registration') as batch:
        batch.add_column(sa.Column('paid_into', sa.String(length=11), nullable=True))


def downgrade():
    with op.batch_alter_table('registration') as batch:
        batch.drop_column('paid_into')
    with op.batch_alter_table('membership_change') as batch:
        batch.drop_column('lmc_engagement')
        batch.drop_column('lmc_engaged_on')
        batch.drop_column('kind')

"""security and reliability (issue #12): a per-user session key that signing out rotates

Revision ID: 0008_security
Revises: 0007_organisations
Create Date: 2026-12-01 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_security'
down_revision = '0007_organisations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_key', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_key')

"""blocks per system: an LSOA code is unique within a system, not across eras

Revision ID: 0009_blocks_per_system
Revises: 0008_security
Create Date: 2026-12-04 00:40:00

"""
from alembic import op

revision = '0009_blocks_per_system'
down_revision = '0008_security'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_block_code'), type_='unique')
        batch_op.create_unique_constraint('uq_block_system_code', ['system_id', 'code'])


def downgrade():
    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.drop_constraint('uq_block_system_code', type_='unique')
        batch_op.create_unique_constraint(op.f('uq_block_code'), ['code'])

"""a round's derived state (issue #11): the generation tokens a cached state is keyed by

Revision ID: 0013_round_state
Revises: 0012_place_areas
Create Date: 2026-12-04 00:00:00

"""
import uuid

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_round_state'
down_revision = '0012_place_areas'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'state_generation',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.CheckConstraint("name IN ('data', 'geography')", name=op.f('ck_state_generation_name')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_state_generation')),
    )
    # A fresh token per database: states cached for another database never match.
    op.bulk_insert(table, [{'name': 'data', 'token': uuid.uuid4().hex},
                           {'name': 'geography', 'token': uuid.uuid4().hex}])


def downgrade():
    op.drop_table('state_generation')

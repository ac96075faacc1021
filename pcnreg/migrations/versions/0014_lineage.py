"""organisation lineage: how commissioners and systems became later ones

Revision ID: 0014_lineage
Revises: 0013_round_state
Create Date: 2026-12-04 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_lineage'
down_revision = '0013_round_state'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'organisation_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=12), nullable=False),
        sa.Column('before', sa.String(length=16), nullable=False),
        sa.Column('after', sa.String(length=16), nullable=False),
        sa.Column('relation', sa.String(length=12), nullable=False),
        sa.Column('effective', sa.Date(), nullable=True),
        sa.Column('evidence', sa.String(length=500), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.CheckConstraint("level IN ('commissioner', 'system')", name=op.f('ck_organisation_link_level')),
        sa.CheckConstraint("relation IN ('continued_as', 'renamed_to', 'merged_into', 'split_into', 'became', "
                           "'moved_to')", name=op.f('ck_organisation_link_relation')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_link')),
    )


def downgrade():
    op.drop_table('organisation_link')

"""jobs of the task queue

Revision ID: 0010_jobs
Revises: 0009_blocks_per_system
Create Date: 2026-12-04 00:28:46.805426

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_jobs'
down_revision = '0009_blocks_per_system'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=7), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=True),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_job_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )



def downgrade():

    op.drop_table('job')


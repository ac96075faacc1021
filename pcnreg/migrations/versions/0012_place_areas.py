"""places of local authorities per system: place_local_authority replaces local_authority.place_id

Revision ID: 0012_place_areas
Revises: 0011_neighbourhoods
Create Date: 2026-12-04 00:50:00

A local authority was in one place for the whole instance; with several systems (and eras) in
one database it is in a place of each system. The existing links are copied.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_place_areas'
down_revision = '0011_neighbourhoods'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'place_local_authority',
        sa.Column('place_id', sa.Integer(), nullable=False),
        sa.Column('local_authority_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['local_authority_id'], ['local_authority.id'],
                                name=op.f('fk_place_local_authority_local_authority_id_local_authority')),
        sa.ForeignKeyConstraint(['place_id'], ['place.id'], name=op.f('fk_place_local_authority_place_id_place')),
        sa.PrimaryKeyConstraint('place_id', 'local_authority_id', name=op.f('pk_place_local_authority')),
    )
    op.execute("INSERT INTO place_local_authority (place_id, local_authority_id) "
               "SELECT place_id, id FROM local_authority WHERE place_id IS NOT NULL")
    with op.batch_alter_table('local_authority', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_local_authority_place_id_place'), type_='foreignkey')
        batch_op.drop_column('place_id')


def downgrade():
    with op.batch_alter_table('local_authority', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_local_authority_place_id_place'), 'place', ['place_id'], ['id'])
    op.execute("UPDATE local_authority SET place_id = (SELECT min(place_id) FROM place_local_authority "
               "WHERE place_local_authority.local_authority_id = local_authority.id)")
    op.drop_table('place_local_authority')

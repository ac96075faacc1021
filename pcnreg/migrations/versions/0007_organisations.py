"""organisations (system/commissioner kinds and codes, commissioner x local authority overlaps), contract years, roll-forward

Revision ID: 0007_organisations
Revises: 0006_membership_changes
Create Date: 2026-12-03 23:35:31.361407

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_organisations'
down_revision = '0006_membership_changes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('commissioner_area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commissioner_id', sa.Integer(), nullable=False),
    sa.Column('local_authority_id', sa.Integer(), nullable=False),
    sa.Column('lsoas', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.CheckConstraint('lsoas > 0', name=op.f('ck_commissioner_area_lsoas_positive')),
    sa.ForeignKeyConstraint(['commissioner_id'], ['commissioner.id'], name=op.f('fk_commissioner_area_commissioner_id_commissioner')),
    sa.ForeignKeyConstraint(['local_authority_id'], ['local_authority.id'], name=op.f('fk_commissioner_area_local_authority_id_local_authority')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commissioner_area')),
    sa.UniqueConstraint('commissioner_id', 'local_authority_id', name='uq_commissioner_area')
    )
    with op.batch_alter_table('commissioner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ons_code', sa.String(length=9), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=7), server_default='ccg', nullable=False))
        batch_op.create_check_constraint(op.f('ck_commissioner_kind'), "kind IN ('ccg', 'sub_icb')")

    with op.batch_alter_table('pcn', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carried_from_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_pcn_carried_from_id_pcn'), 'pcn', ['carried_from_id'], ['id'])

    with op.batch_alter_table('registration_round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_year', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('rolled_from_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_registration_round_rolled_from_version_id_config_version'), 'config_version', ['rolled_from_version_id'], ['id'], use_alter=True)

    with op.batch_alter_table('system', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ods_code', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=3), server_default='stp', nullable=False))
        batch_op.create_check_constraint(op.f('ck_system_kind'), "kind IN ('stp', 'icb')")



def downgrade():
    with op.batch_alter_table('system', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_system_kind'), type_='check')
        batch_op.drop_column('kind')
        batch_op.drop_column('ods_code')

    with op.batch_alter_table('registration_round', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_registration_round_rolled_from_version_id_config_version'), type_='foreignkey')
        batch_op.drop_column('rolled_from_version_id')
        batch_op.drop_column('contract_year')

    with op.batch_alter_table('pcn', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pcn_carried_from_id_pcn'), type_='foreignkey')
        batch_op.drop_column('carried_from_id')

    with op.batch_alter_table('commissioner', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_commissioner_kind'), type_='check')
        batch_op.drop_column('kind')
        batch_op.drop_column('ons_code')

    op.drop_table('commissioner_area')

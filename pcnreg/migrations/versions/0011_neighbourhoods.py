"""neighbourhoods and catchments: where each practice's patients live (LSOA registrations),
an ICB's neighbourhoods (LSOA -> neighbourhood) and the round's catchment settings (issue #14)

Revision ID: 0011_neighbourhoods
Revises: 0010_jobs
Create Date: 2026-12-05 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011_neighbourhoods'
down_revision = '0010_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lsoa_registration_load',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('extract_date', sa.Date(), nullable=True),
        sa.Column('vintage', sa.String(length=20), nullable=False),
        sa.Column('rows_read', sa.Integer(), nullable=False),
        sa.Column('practices', sa.Integer(), nullable=False),
        sa.Column('patients', sa.Integer(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('loaded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['registration_round.id'],
                                name=op.f('fk_lsoa_registration_load_round_id_registration_round')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lsoa_registration_load')),
        sa.UniqueConstraint('round_id', name='uq_lsoa_registration_load_round'),
    )
    op.create_table(
        'lsoa_registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('load_id', sa.Integer(), nullable=False),
        sa.Column('practice_code', sa.String(length=6), nullable=False),
        sa.Column('lsoa_code', sa.String(length=9), nullable=False),
        sa.Column('patients', sa.Integer(), nullable=False),
        sa.CheckConstraint('patients >= 0', name=op.f('ck_lsoa_registration_patients_not_negative')),
        sa.ForeignKeyConstraint(['load_id'], ['lsoa_registration_load.id'],
                                name=op.f('fk_lsoa_registration_load_id_lsoa_registration_load')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lsoa_registration')),
        sa.UniqueConstraint('load_id', 'practice_code', 'lsoa_code', name='uq_lsoa_registration'),
    )
    op.create_table(
        'lsoa_registered_total',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('load_id', sa.Integer(), nullable=False),
        sa.Column('lsoa_code', sa.String(length=9), nullable=False),
        sa.Column('patients', sa.Integer(), nullable=False),
        sa.CheckConstraint('patients >= 0', name=op.f('ck_lsoa_registered_total_patients_not_negative')),
        sa.ForeignKeyConstraint(['load_id'], ['lsoa_registration_load.id'],
                                name=op.f('fk_lsoa_registered_total_load_id_lsoa_registration_load')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lsoa_registered_total')),
        sa.UniqueConstraint('load_id', 'lsoa_code', name='uq_lsoa_registered_total'),
    )
    op.create_table(
        'neighbourhood',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=6), nullable=False),
        sa.CheckConstraint("kind IN ('single', 'multi')", name=op.f('ck_neighbourhood_kind')),
        sa.ForeignKeyConstraint(['round_id'], ['registration_round.id'],
                                name=op.f('fk_neighbourhood_round_id_registration_round')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbourhood')),
        sa.UniqueConstraint('round_id', 'name', name='uq_neighbourhood_round_name'),
    )
    op.create_table(
        'neighbourhood_lsoa',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('neighbourhood_id', sa.Integer(), nullable=False),
        sa.Column('lsoa_code', sa.String(length=9), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['registration_round.id'],
                                name=op.f('fk_neighbourhood_lsoa_round_id_registration_round')),
        sa.ForeignKeyConstraint(['neighbourhood_id'], ['neighbourhood.id'],
                                name=op.f('fk_neighbourhood_lsoa_neighbourhood_id_neighbourhood')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbourhood_lsoa')),
        sa.UniqueConstraint('round_id', 'lsoa_code', name='uq_neighbourhood_lsoa_round_lsoa'),
    )
    op.create_table(
        'neighbourhood_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('catchment_threshold', sa.Float(), nullable=False),
        sa.Column('catchment_method', sa.String(length=9), nullable=False),
        sa.Column('alignment_threshold', sa.Float(), nullable=False),
        sa.Column('single_size', sa.Integer(), nullable=False),
        sa.Column('multi_size', sa.Integer(), nullable=False),
        sa.CheckConstraint("catchment_method IN ('threshold', 'largest')",
                           name=op.f('ck_neighbourhood_settings_catchment_method')),
        sa.CheckConstraint('catchment_threshold > 0 AND catchment_threshold <= 1',
                           name=op.f('ck_neighbourhood_settings_catchment_share')),
        sa.CheckConstraint('alignment_threshold > 0 AND alignment_threshold <= 1',
                           name=op.f('ck_neighbourhood_settings_alignment_share')),
        sa.CheckConstraint('single_size > 0 AND multi_size > 0', name=op.f('ck_neighbourhood_settings_sizes')),
        sa.ForeignKeyConstraint(['round_id'], ['registration_round.id'],
                                name=op.f('fk_neighbourhood_settings_round_id_registration_round')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbourhood_settings')),
        sa.UniqueConstraint('round_id', name='uq_neighbourhood_settings_round'),
    )


def downgrade():
    op.drop_table('neighbourhood_settings')
    op.drop_table('neighbourhood_lsoa')
    op.drop_table('neighbourhood')
    op.drop_table('lsoa_registered_total')
    op.drop_table('lsoa_registration')
    op.drop_table('lsoa_registration_load')

"""Reconciliation: recordkeeper confirmations, recorded resolutions, analyst tenant grants.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQL = """
-- What a recordkeeper says it posted: per participant, pay date and source, with the deposit date.
CREATE TABLE core.recordkeeper_confirmations (
    id uuid PRIMARY KEY DEFAULT core.uuid_v7(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    file_upload_id uuid NOT NULL REFERENCES core.file_uploads(id),
    source_row integer NOT NULL,
    pay_date date NOT NULL,
    employee_external_id text,
    ssn_blind_index bytea NOT NULL,
    source_code text NOT NULL CHECK (source_code IN (
        'PRETAX', 'ROTH', 'CATCHUP_PRETAX', 'CATCHUP_ROTH', 'AFTER_TAX', 'MATCH', 'SAFE_HARBOR_MATCH',
        'SAFE_HARBOR_NEC', 'PROFIT_SHARING', 'QNEC', 'QMAC', 'LOAN')),
    loan_number text,
    amount_cents bigint NOT NULL,
    deposit_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX recordkeeper_confirmations_partition ON core.recordkeeper_confirmations (organization_id, pay_date);
CREATE INDEX recordkeeper_confirmations_file ON core.recordkeeper_confirmations (file_upload_id);

-- A person's decision on a reconciliation item; the marts join the latest one, so a rebuild keeps it.
CREATE TABLE core.reconciliation_resolutions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    item_id text NOT NULL,
    action text NOT NULL CHECK (action IN ('manual_review', 'auto_corrected', 'ignored')),
    note text NOT NULL DEFAULT '',
    resolved_by text NOT NULL DEFAULT core.current_actor(),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX reconciliation_resolutions_item ON core.reconciliation_resolutions (organization_id, item_id, created_at);

-- Which tenants an analyst role may read in the marts.
CREATE TABLE core.analyst_grants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    role_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    UNIQUE (organization_id, role_name)
);

CALL core.secure_tables();

-- Grants are managed by the owner (`synclinqs analysts grant`), not by the pipeline.
REVOKE ALL ON core.analyst_grants FROM synclinqs_pipeline, synclinqs_transformer;
CREATE POLICY owner_manages ON core.analyst_grants TO synclinqs_owner USING (true) WITH CHECK (true);

-- The tenants the connected analyst was granted; used by the marts' policies. It runs as the owner,
-- which alone reads the grants, and answers for the session's login role only (inside a definer
-- function current_user is the owner, session_user the analyst).
CREATE FUNCTION core.analyst_tenants() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT organization_id FROM core.analyst_grants WHERE role_name = session_user::text
$$;
REVOKE ALL ON FUNCTION core.analyst_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.analyst_tenants() TO synclinqs_analyst, synclinqs_transformer;
GRANT USAGE ON SCHEMA core TO synclinqs_analyst;
"""


def upgrade() -> None:
    run_sql(op.get_bind(), SQL)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")

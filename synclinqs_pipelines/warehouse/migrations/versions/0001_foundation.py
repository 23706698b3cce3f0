"""Foundation: tenant tables under forced row-level security, encrypted PII columns, hash-chained audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = """
CREATE SCHEMA core;
CREATE SCHEMA audit;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA core TO synclinqs_pipeline, synclinqs_transformer;
GRANT USAGE ON SCHEMA audit TO synclinqs_pipeline;

-- The tenant of the current transaction; NULL when unset or empty, so policies then match no row.
CREATE FUNCTION core.current_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('app.current_organization_id', true), '')::uuid
$$;

CREATE FUNCTION core.current_actor() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('app.actor', true), ''), session_user::text)
$$;

-- Time-ordered UUIDs (version 7 layout: 48-bit milliseconds, then random) for the bulk fact tables: a
-- load appends to the right edge of the primary key instead of touching random pages of it.
CREATE FUNCTION core.uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
           substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
           FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

CREATE FUNCTION core.touch_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    NEW.updated_by := core.current_actor();
    RETURN NEW;
END
$$;
"""

TABLES = """
-- The tenant registry. It holds no participant data; each tenant's own rows live in tables below that
-- carry organization_id and are isolated by policy.
CREATE TABLE core.organizations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text NOT NULL,
    payroll_system text NOT NULL,
    recordkeeper_system text NOT NULL,
    template text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    config_digest text,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz
);

CREATE TABLE core.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    username text NOT NULL,
    email text,
    role text NOT NULL CHECK (role IN ('admin', 'manager', 'user', 'viewer')),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    UNIQUE (organization_id, username)
);

CREATE TABLE core.plans (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    plan_code text NOT NULL,
    recordkeeper_plan_id text,
    name text NOT NULL,
    has_roth boolean NOT NULL DEFAULT true,
    participants_at_year_start integer NOT NULL DEFAULT 0 CHECK (participants_at_year_start >= 0),
    limitation_year_start_month smallint NOT NULL DEFAULT 1 CHECK (limitation_year_start_month BETWEEN 1 AND 12),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    UNIQUE (organization_id, plan_code)
);

CREATE TABLE core.tenant_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    purpose text NOT NULL CHECK (purpose IN ('data', 'index')),
    version integer NOT NULL CHECK (version >= 1),
    wrapped_key bytea NOT NULL,
    provider text NOT NULL,
    kek_id text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    UNIQUE (organization_id, purpose, version)
);
CREATE UNIQUE INDEX tenant_keys_one_active ON core.tenant_keys (organization_id, purpose) WHERE status = 'active';

-- PII columns hold AES-256-GCM ciphertexts (see synclinqs_pipelines.security.envelope); the SSN is
-- found through its blind index, never compared in plaintext.
CREATE TABLE core.employees (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    external_id text,
    ssn_blind_index bytea NOT NULL,
    ssn_encrypted bytea NOT NULL,
    first_name_encrypted bytea,
    middle_name_encrypted bytea,
    last_name_encrypted bytea,
    birth_date_encrypted bytea,
    address_encrypted bytea,
    email_encrypted bytea,
    pii_digest bytea NOT NULL,
    -- The first calendar year the employee is 50 by December 31: catch-up eligibility without a birth date.
    catch_up_eligible_year smallint,
    hire_date date,
    rehire_date date,
    termination_date date,
    employment_status text CHECK (employment_status IN ('A', 'T', 'L')),
    division text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    UNIQUE (organization_id, ssn_blind_index)
);
CREATE INDEX employees_external_id ON core.employees (organization_id, external_id);

CREATE TABLE core.file_uploads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    kind text NOT NULL DEFAULT 'payroll' CHECK (kind IN ('payroll', 'confirmation')),
    file_name text NOT NULL,
    landing_uri text NOT NULL,
    archive_uri text,
    digest_sha256 text NOT NULL CHECK (digest_sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    pay_date date,
    status text NOT NULL CHECK (status IN ('received', 'duplicate', 'quarantined', 'processing',
                                           'loaded', 'partially_loaded', 'failed', 'superseded')),
    status_reason text,
    duplicate_of uuid REFERENCES core.file_uploads(id),
    rows_total integer,
    rows_loaded integer,
    rows_rejected integer,
    received_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
-- One accepted file per digest and tenant: the same bytes under another name are recorded as duplicates.
CREATE UNIQUE INDEX file_uploads_digest_accepted ON core.file_uploads (organization_id, kind, digest_sha256)
    WHERE status NOT IN ('duplicate', 'quarantined');
CREATE INDEX file_uploads_partition ON core.file_uploads (organization_id, kind, pay_date);
CREATE INDEX file_uploads_duplicate_of ON core.file_uploads (duplicate_of);

CREATE TABLE core.deferral_elections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    employee_id uuid NOT NULL REFERENCES core.employees(id),
    plan_id uuid REFERENCES core.plans(id),
    effective_date date NOT NULL,
    pretax_pct numeric(7, 5) CHECK (pretax_pct BETWEEN 0 AND 1),
    roth_pct numeric(7, 5) CHECK (roth_pct BETWEEN 0 AND 1),
    file_upload_id uuid REFERENCES core.file_uploads(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    UNIQUE (organization_id, employee_id, effective_date)
);
CREATE INDEX deferral_elections_employee ON core.deferral_elections (employee_id);
CREATE INDEX deferral_elections_plan ON core.deferral_elections (plan_id);
CREATE INDEX deferral_elections_file ON core.deferral_elections (file_upload_id);

CREATE TABLE core.loans (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    employee_id uuid NOT NULL REFERENCES core.employees(id),
    loan_number text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paid_off', 'defaulted')),
    first_payment_date date,
    last_payment_date date,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    UNIQUE (organization_id, employee_id, loan_number)
);
CREATE INDEX loans_employee ON core.loans (employee_id);

-- Long form: one row per employee x pay date x source code (x loan), range-partitioned by pay date.
-- The bulk fact tables carry no foreign-key constraints: per-row RI checks made a million-row load
-- several times slower, and the loader's INSERT ... SELECT joins every row to its employee, plan, loan
-- and file, so a row cannot reference what does not exist; an asset check counts orphans after loads.
CREATE TABLE core.contributions (
    id uuid NOT NULL DEFAULT core.uuid_v7(),
    organization_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    plan_id uuid,
    file_upload_id uuid,
    loan_id uuid,
    pay_date date NOT NULL,
    plan_year smallint NOT NULL,
    source_code text NOT NULL CHECK (source_code IN (
        'PRETAX', 'ROTH', 'CATCHUP_PRETAX', 'CATCHUP_ROTH', 'AFTER_TAX', 'MATCH', 'SAFE_HARBOR_MATCH',
        'SAFE_HARBOR_NEC', 'PROFIT_SHARING', 'QNEC', 'QMAC', 'LOAN')),
    amount_cents bigint NOT NULL,
    source_row integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    deleted_at timestamptz,
    PRIMARY KEY (id, pay_date),
    CHECK ((source_code = 'LOAN') = (loan_id IS NOT NULL))
) PARTITION BY RANGE (pay_date);
CREATE INDEX contributions_partition ON core.contributions (organization_id, pay_date, employee_id);
CREATE INDEX contributions_employee_year ON core.contributions (employee_id, plan_year);
DO $$
BEGIN
    FOR y IN 2015..2040 LOOP
        EXECUTE format(
            'CREATE TABLE core.contributions_%s PARTITION OF core.contributions FOR VALUES FROM (%L) TO (%L)',
            y, make_date(y, 1, 1), make_date(y + 1, 1, 1));
    END LOOP;
END
$$;
CREATE TABLE core.contributions_default PARTITION OF core.contributions DEFAULT;

-- One row per employee and pay date (and file): the compensation the limits and marts need.
CREATE TABLE core.pay_records (
    id uuid NOT NULL DEFAULT core.uuid_v7(),
    organization_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    plan_id uuid,
    file_upload_id uuid,
    pay_date date NOT NULL,
    plan_year smallint NOT NULL,
    source_row integer NOT NULL,
    gross_pay_cents bigint,
    plan_compensation_cents bigint,
    hours numeric(9, 2),
    prior_year_fica_cents bigint,
    pay_frequency text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor(),
    PRIMARY KEY (id, pay_date)
) PARTITION BY RANGE (pay_date);
CREATE INDEX pay_records_partition ON core.pay_records (organization_id, pay_date);
CREATE INDEX pay_records_employee_year ON core.pay_records (employee_id, plan_year);
DO $$
BEGIN
    FOR y IN 2015..2040 LOOP
        EXECUTE format(
            'CREATE TABLE core.pay_records_%s PARTITION OF core.pay_records FOR VALUES FROM (%L) TO (%L)',
            y, make_date(y, 1, 1), make_date(y + 1, 1, 1));
    END LOOP;
END
$$;
CREATE TABLE core.pay_records_default PARTITION OF core.pay_records DEFAULT;

CREATE TABLE core.file_exports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    pay_date date NOT NULL,
    destination_system text NOT NULL,
    file_name text NOT NULL,
    uri text NOT NULL,
    digest_sha256 text NOT NULL,
    size_bytes bigint NOT NULL,
    record_count integer NOT NULL,
    control_total_cents bigint NOT NULL,
    totals_by_source jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL DEFAULT 'written'
        CHECK (status IN ('written', 'pending', 'running', 'delivered', 'failed', 'superseded')),
    status_reason text,
    attempts integer NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    run_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX file_exports_partition ON core.file_exports (organization_id, pay_date);

CREATE TABLE core.error_queue (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    file_upload_id uuid REFERENCES core.file_uploads(id),
    stage text NOT NULL CHECK (stage IN ('landing', 'mapping', 'validation', 'export')),
    pay_date date,
    source_row integer,
    field text,
    rule_code text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('error', 'warning')),
    message text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'ignored')),
    run_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX error_queue_partition ON core.error_queue (organization_id, pay_date, stage, source_row);
CREATE INDEX error_queue_file ON core.error_queue (file_upload_id);

CREATE TABLE core.retry_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    operation text NOT NULL,
    target text NOT NULL,
    file_export_id uuid REFERENCES core.file_exports(id),
    attempt integer NOT NULL CHECK (attempt >= 1),
    outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'skipped', 'circuit_open')),
    error_class text,
    error_message text,
    delay_seconds double precision,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX retry_logs_export ON core.retry_logs (file_export_id);
CREATE INDEX retry_logs_target ON core.retry_logs (organization_id, target, started_at);

CREATE TABLE core.mapping_execution_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    file_upload_id uuid REFERENCES core.file_uploads(id),
    pay_date date,
    template text NOT NULL,
    spec_digest text NOT NULL,
    rows_in integer NOT NULL,
    rows_out integer NOT NULL,
    errors_by_code jsonb NOT NULL DEFAULT '{}'::jsonb,
    duration_ms integer NOT NULL,
    run_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE INDEX mapping_execution_logs_file ON core.mapping_execution_logs (file_upload_id);

CREATE TABLE core.notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES core.organizations(id),
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    kind text NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    link text,
    dedupe_key text,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sent', 'acknowledged')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT core.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT core.current_actor()
);
CREATE UNIQUE INDEX notifications_dedupe ON core.notifications (organization_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL;
"""

AUDIT = """
CREATE TABLE audit.audit_logs (
    id bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor text NOT NULL,
    run_id text,
    organization_id uuid,
    table_name text NOT NULL,
    operation text NOT NULL,
    row_count integer NOT NULL,
    row_ids uuid[] NOT NULL,
    changed_columns text[] NOT NULL,
    details jsonb NOT NULL,
    prev_hash bytea,
    entry_hash bytea NOT NULL
);
CREATE SEQUENCE audit.audit_logs_id_seq OWNED BY audit.audit_logs.id;
CREATE INDEX audit_logs_org ON audit.audit_logs (organization_id, occurred_at);

-- The digest of one entry over every stored column and the previous entry's digest. Verification
-- recomputes it, so a changed column, a removed entry or a reordered chain shows at the first bad row.
CREATE FUNCTION audit.entry_digest(
    p_prev bytea, p_id bigint, p_at timestamptz, p_actor text, p_run text, p_org uuid, p_table text,
    p_op text, p_count integer, p_ids uuid[], p_cols text[], p_details jsonb
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(concat_ws(E'\\x1f',
        coalesce(encode(p_prev, 'hex'), ''), p_id::text,
        to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        p_actor, coalesce(p_run, ''), coalesce(p_org::text, ''), p_table, p_op, p_count::text,
        array_to_string(p_ids, ','), array_to_string(p_cols, ','), p_details::text), 'UTF8'))
$$;

CREATE FUNCTION audit.append(
    p_table text, p_op text, p_org uuid, p_count integer, p_ids uuid[], p_cols text[], p_details jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_prev bytea;
    v_id bigint;
    v_at timestamptz := clock_timestamp();
    v_actor text := coalesce(nullif(current_setting('app.actor', true), ''), session_user::text);
    v_run text := nullif(current_setting('app.run_id', true), '');
BEGIN
    -- One writer at a time extends the chain; the lock is released at commit.
    PERFORM pg_advisory_xact_lock(hashtext('synclinqs.audit_chain'));
    SELECT entry_hash INTO v_prev FROM audit.audit_logs ORDER BY id DESC LIMIT 1;
    v_id := nextval('audit.audit_logs_id_seq');
    INSERT INTO audit.audit_logs (id, occurred_at, actor, run_id, organization_id, table_name, operation,
                                  row_count, row_ids, changed_columns, details, prev_hash, entry_hash)
    VALUES (v_id, v_at, v_actor, v_run, p_org, p_table, p_op, p_count, coalesce(p_ids, '{}'),
            coalesce(p_cols, '{}'), coalesce(p_details, '{}'::jsonb), v_prev,
            audit.entry_digest(v_prev, v_id, v_at, v_actor, v_run, p_org, p_table, p_op, p_count,
                               coalesce(p_ids, '{}'), coalesce(p_cols, '{}'), coalesce(p_details, '{}'::jsonb)));
    RETURN v_id;
END
$$;

-- Events that are not table changes (SFTP logins, uploads, refusals, key rotation). The details must
-- never carry PII; callers pass identifiers and counts only.
CREATE FUNCTION audit.record_event(p_event text, p_org uuid, p_details jsonb) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT audit.append('event', p_event, p_org, 0, '{}'::uuid[], '{}'::text[], p_details)
$$;

-- Statement-level capture with transition tables: one chained entry per statement and table, naming
-- every affected row id and the columns that changed. A per-row trigger would serialize a bulk load of a
-- million contributions on the chain lock; one entry per statement keeps the load set-based.
CREATE FUNCTION audit.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_ids uuid[];
    v_orgs uuid[];
    v_cols text[];
    v_count integer;
BEGIN
    -- PL/pgSQL plans each branch for the table the trigger fires on, so organizations (the registry,
    -- keyed by id) and tenant tables (keyed by organization_id) take different branches.
    IF TG_OP = 'INSERT' THEN
        IF TG_TABLE_NAME = 'organizations' THEN
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.id) INTO v_ids, v_count, v_orgs FROM new_rows r;
        ELSE
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.organization_id)
              INTO v_ids, v_count, v_orgs FROM new_rows r;
        END IF;
        SELECT array_agg(a.attname::text ORDER BY a.attname) INTO v_cols
          FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
    ELSIF TG_OP = 'UPDATE' THEN
        IF TG_TABLE_NAME = 'organizations' THEN
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.id) INTO v_ids, v_count, v_orgs FROM new_rows r;
        ELSE
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.organization_id)
              INTO v_ids, v_count, v_orgs FROM new_rows r;
        END IF;
        SELECT array_agg(k ORDER BY k) INTO v_cols FROM (
            SELECT DISTINCT e.key AS k
              FROM old_rows o JOIN new_rows n ON o.id = n.id, jsonb_each(to_jsonb(n)) AS e
             WHERE (to_jsonb(o) -> e.key) IS DISTINCT FROM e.value
               AND e.key NOT IN ('updated_at', 'updated_by')) changed;
    ELSE
        IF TG_TABLE_NAME = 'organizations' THEN
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.id) INTO v_ids, v_count, v_orgs FROM old_rows r;
        ELSE
            SELECT array_agg(r.id), count(*), array_agg(DISTINCT r.organization_id)
              INTO v_ids, v_count, v_orgs FROM old_rows r;
        END IF;
    END IF;
    IF coalesce(v_count, 0) = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM audit.append(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
                         CASE WHEN cardinality(v_orgs) = 1 THEN v_orgs[1] END,
                         v_count, v_ids, coalesce(v_cols, '{}'),
                         jsonb_build_object('organizations', to_jsonb(v_orgs)));
    RETURN NULL;
END
$$;

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit.audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit.audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Tenants read their own entries; the chain as a whole is read (verified) and written (through the
-- definer functions above, which run as the owner) by the owner only.
ALTER TABLE audit.audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON audit.audit_logs FOR SELECT
    USING (organization_id = core.current_organization_id());
CREATE POLICY owner_chain ON audit.audit_logs TO synclinqs_owner USING (true) WITH CHECK (true);

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.append(text, text, uuid, integer, uuid[], text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.capture() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.record_event(text, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.record_event(text, uuid, jsonb) TO synclinqs_pipeline;
GRANT EXECUTE ON FUNCTION audit.entry_digest(bytea, bigint, timestamptz, text, text, uuid, text, text,
                                             integer, uuid[], text[], jsonb) TO synclinqs_pipeline;
GRANT SELECT ON audit.audit_logs TO synclinqs_pipeline;
"""

# Applied to every core table: tenant policy (or none for the registry), audit capture, updated_at.
# Written as a procedure so later migrations call it again for the tables they add.
POLICIES = """
CREATE PROCEDURE core.secure_tables() LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.relname, c.relkind, c.relispartition,
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'organization_id' AND NOT a.attisdropped) AS tenant_scoped,
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'updated_at' AND NOT a.attisdropped) AS has_updated_at
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'core' AND c.relkind IN ('r', 'p')
    LOOP
        IF t.tenant_scoped THEN
            EXECUTE format('ALTER TABLE core.%I ENABLE ROW LEVEL SECURITY', t.relname);
            EXECUTE format('ALTER TABLE core.%I FORCE ROW LEVEL SECURITY', t.relname);
            EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON core.%I', t.relname);
            EXECUTE format(
                'CREATE POLICY tenant_isolation ON core.%I USING (organization_id = core.current_organization_id())'
                ' WITH CHECK (organization_id = core.current_organization_id())', t.relname);
            -- dbt reads every tenant to build the marts; it cannot write core tables (no grant).
            EXECUTE format('DROP POLICY IF EXISTS transformer_read ON core.%I', t.relname);
            EXECUTE format(
                'CREATE POLICY transformer_read ON core.%I FOR SELECT TO synclinqs_transformer USING (true)',
                t.relname);
        END IF;
        IF t.relispartition THEN
            -- Partitions are reached through their parent only.
            EXECUTE format('REVOKE ALL ON core.%I FROM synclinqs_pipeline, synclinqs_transformer', t.relname);
            CONTINUE;
        END IF;
        EXECUTE format('GRANT SELECT ON core.%I TO synclinqs_transformer', t.relname);
        IF t.relname = 'organizations' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON core.%I TO synclinqs_pipeline', t.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON core.%I TO synclinqs_pipeline', t.relname);
        END IF;
        IF t.has_updated_at THEN
            EXECUTE format('DROP TRIGGER IF EXISTS touch_updated ON core.%I', t.relname);
            EXECUTE format('CREATE TRIGGER touch_updated BEFORE UPDATE ON core.%I'
                           ' FOR EACH ROW EXECUTE FUNCTION core.touch_updated()', t.relname);
        END IF;
        EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON core.%I', t.relname);
        EXECUTE format('DROP TRIGGER IF EXISTS audit_update ON core.%I', t.relname);
        EXECUTE format('DROP TRIGGER IF EXISTS audit_delete ON core.%I', t.relname);
        EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON core.%I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION audit.capture()', t.relname);
        EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON core.%I'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION audit.capture()', t.relname);
        EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON core.%I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION audit.capture()', t.relname);
    END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE core.secure_tables() FROM PUBLIC;
CALL core.secure_tables();
GRANT EXECUTE ON FUNCTION core.current_organization_id() TO synclinqs_pipeline, synclinqs_transformer;
"""


def upgrade() -> None:
    bind = op.get_bind()
    for script in (SCHEMAS, TABLES, AUDIT, POLICIES):
        run_sql(bind, script)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")

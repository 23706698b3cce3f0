{#-
    Every rebuild of a mart table drops its policies with the old table, so each mart puts them back:
    forced row-level security, analysts see the tenants granted to them (core.analyst_tenants()), the
    transformer that owns the table sees everything. A role granted nothing reads nothing.
-#}
{% macro secure_mart() %}
    alter table {{ this }} enable row level security;
    alter table {{ this }} force row level security;
    drop policy if exists analyst_read on {{ this }};
    create policy analyst_read on {{ this }} for select to synclinqs_analyst
        using (organization_id in (select core.analyst_tenants()));
    drop policy if exists transformer_all on {{ this }};
    create policy transformer_all on {{ this }} to synclinqs_transformer using (true) with check (true);
    grant usage on schema {{ this.schema }} to synclinqs_analyst;
    grant select on {{ this }} to synclinqs_analyst;
{% endmacro %}

-- One row per expected or confirmed item. Rebuilt for the recent pay dates each run (the lookback
-- window), so a nightly run costs what can still change, not all history.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'pay_date'],
        on_schema_change='fail',
    )
}}

with

matched as (
    select * from {{ ref('int_reconciliation__matched') }}
    {{ recent_only('pay_date') }}
),

resolutions as (
    select distinct on (organization_id, item_id) *
    from {{ ref('stg_core__reconciliation_resolutions') }}
    order by organization_id, item_id, resolved_at desc
),

final as (
    select
        matched.item_id,
        matched.organization_id,
        matched.employee_id,
        matched.employee_external_id,
        matched.pay_date,
        matched.source_code,
        matched.loan_number,
        matched.expected_cents,
        matched.confirmed_cents,
        matched.variance_cents,
        matched.match_status,
        matched.deposit_date,
        matched.is_pay_date_confirmed,
        resolutions.resolution_action,
        resolutions.resolution_note,
        resolutions.resolved_by,
        resolutions.resolved_at
    from matched
    left join resolutions
        on resolutions.organization_id = matched.organization_id
        and resolutions.item_id = matched.item_id
)

select * from final

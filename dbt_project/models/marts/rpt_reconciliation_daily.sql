-- Per tenant, pay date and system pair: totals, item counts by status, variance and the day's status.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'reconciliation_date'],
        on_schema_change='fail',
    )
}}

with

items as (
    select * from {{ ref('fct_reconciliation_items') }}
    {{ recent_only('pay_date', this_column='reconciliation_date') }}
),

organizations as (
    select * from {{ ref('stg_core__organizations') }}
),

daily as (
    select
        organization_id,
        pay_date as reconciliation_date,
        sum(expected_cents)::bigint as expected_cents,
        sum(confirmed_cents)::bigint as confirmed_cents,
        sum(variance_cents)::bigint as variance_cents,
        sum(abs(variance_cents))::bigint as absolute_variance_cents,
        count(*) as items_total,
        count(*) filter (where match_status = 'matched') as items_matched,
        count(*) filter (where match_status = 'source_only') as items_source_only,
        count(*) filter (where match_status = 'destination_only') as items_destination_only,
        count(*) filter (where match_status = 'amount_mismatch') as items_amount_mismatch,
        count(*) filter (where match_status <> 'matched' and resolution_action is not null) as items_resolved,
        count(*) filter (where match_status <> 'matched' and resolution_action is null) as items_open,
        bool_or(is_pay_date_confirmed) as has_confirmations
    from items
    group by organization_id, pay_date
),

final as (
    select
        md5(daily.organization_id::text || '|' || daily.reconciliation_date::text) as report_id,
        daily.organization_id,
        organizations.tenant_slug,
        daily.reconciliation_date,
        organizations.payroll_system as source_system,
        organizations.recordkeeper_system as destination_system,
        daily.expected_cents,
        daily.confirmed_cents,
        daily.variance_cents,
        daily.absolute_variance_cents,
        daily.items_total,
        daily.items_matched,
        daily.items_source_only,
        daily.items_destination_only,
        daily.items_amount_mismatch,
        daily.items_resolved,
        case
            when not daily.has_confirmations then 'pending'
            when daily.items_open = 0 then 'reconciled'
            else 'discrepancies'
        end as status,
        daily.absolute_variance_cents > organizations.variance_threshold_cents as is_over_threshold
    from daily
    inner join organizations on organizations.organization_id = daily.organization_id
)

select * from final

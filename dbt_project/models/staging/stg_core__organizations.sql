with

source as (
    select * from {{ source('core', 'organizations') }}
),

final as (
    select
        id as organization_id,
        slug as tenant_slug,
        payroll_system,
        recordkeeper_system,
        coalesce((settings -> 'thresholds' ->> 'reconciliation_variance_cents')::bigint, 0) as variance_threshold_cents,
        -- How the recordkeeper confirms: sources its columns combine, and whether loans come by number.
        coalesce(settings -> 'confirmation_grouping' -> 'sources', '{}'::jsonb) as confirmed_source_codes,
        coalesce((settings -> 'confirmation_grouping' ->> 'loans_by_number')::boolean, true) as confirms_loans_by_number,
        is_active
    from source
    where deleted_at is null
)

select * from final

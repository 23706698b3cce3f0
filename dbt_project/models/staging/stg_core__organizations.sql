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
        is_active
    from source
    where deleted_at is null
)

select * from final

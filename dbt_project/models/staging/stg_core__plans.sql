with

source as (
    select * from {{ source('core', 'plans') }}
),

final as (
    select
        id as plan_id,
        organization_id,
        plan_code,
        has_roth,
        participants_at_year_start,
        participants_at_year_start < 100 as is_small_plan
    from source
    where deleted_at is null
)

select * from final

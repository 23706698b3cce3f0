with

source as (
    select * from {{ source('core', 'loans') }}
),

final as (
    select
        id as loan_id,
        organization_id,
        employee_id,
        loan_number
    from source
    where deleted_at is null
)

select * from final

with

source as (
    select * from {{ source('core', 'pay_records') }}
),

final as (
    select
        id as pay_record_id,
        organization_id,
        employee_id,
        pay_date,
        plan_year,
        gross_pay_cents,
        plan_compensation_cents
    from source
)

select * from final

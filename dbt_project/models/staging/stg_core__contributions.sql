with

source as (
    select * from {{ source('core', 'contributions') }}
),

final as (
    select
        id as contribution_id,
        organization_id,
        employee_id,
        plan_id,
        loan_id,
        file_upload_id,
        pay_date,
        plan_year,
        source_code,
        amount_cents,
        created_at,
        updated_at
    from source
    where deleted_at is null
)

select * from final

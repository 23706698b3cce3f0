with

source as (
    select * from {{ source('core', 'recordkeeper_confirmations') }}
),

final as (
    select
        id as confirmation_id,
        organization_id,
        file_upload_id,
        pay_date,
        employee_external_id,
        ssn_blind_index,
        source_code,
        loan_number,
        amount_cents,
        deposit_date,
        updated_at
    from source
)

select * from final

-- What the recordkeeper confirmed it posted, at the same grain as the expected items.
with

confirmations as (
    select * from {{ ref('stg_core__recordkeeper_confirmations') }}
),

final as (
    select
        organization_id,
        ssn_blind_index,
        max(employee_external_id) as employee_external_id,
        pay_date,
        source_code,
        coalesce(loan_number, '') as loan_number,
        sum(amount_cents)::bigint as confirmed_cents,
        max(deposit_date) as deposit_date
    from confirmations
    group by organization_id, ssn_blind_index, pay_date, source_code, coalesce(loan_number, '')
)

select * from final

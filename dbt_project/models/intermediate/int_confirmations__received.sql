-- What the recordkeeper confirmed it posted, at the same grain as the expected items.
with

confirmations as (
    select * from {{ ref('stg_core__recordkeeper_confirmations') }}
),

organizations as (
    select * from {{ ref('stg_core__organizations') }}
),

normalized as (
    select
        confirmations.organization_id,
        confirmations.ssn_blind_index,
        confirmations.employee_external_id,
        confirmations.pay_date,
        {{ at_recordkeeper_grain('confirmations.source_code', 'confirmations.loan_number') }},
        confirmations.amount_cents,
        confirmations.deposit_date
    from confirmations
    left join organizations on organizations.organization_id = confirmations.organization_id
),

final as (
    select
        organization_id,
        ssn_blind_index,
        max(employee_external_id) as employee_external_id,
        pay_date,
        source_code,
        loan_number,
        sum(amount_cents)::bigint as confirmed_cents,
        max(deposit_date) as deposit_date
    from normalized
    group by organization_id, ssn_blind_index, pay_date, source_code, loan_number
)

select * from final

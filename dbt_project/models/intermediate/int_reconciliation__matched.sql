-- Expected and confirmed items matched on tenant, employee (by blind index, never plaintext), pay date,
-- source code and loan.
with

expected as (
    select * from {{ ref('int_contributions__expected') }}
),

received as (
    select * from {{ ref('int_confirmations__received') }}
),

confirmed_pay_dates as (
    select distinct organization_id, pay_date from received
),

joined as (
    select
        coalesce(expected.organization_id, received.organization_id) as organization_id,
        coalesce(expected.ssn_blind_index, received.ssn_blind_index) as ssn_blind_index,
        expected.employee_id,
        coalesce(expected.employee_external_id, received.employee_external_id) as employee_external_id,
        coalesce(expected.pay_date, received.pay_date) as pay_date,
        coalesce(expected.source_code, received.source_code) as source_code,
        coalesce(expected.loan_number, received.loan_number) as loan_number,
        expected.expected_cents,
        received.confirmed_cents,
        received.deposit_date
    from expected
    full outer join received
        on expected.organization_id = received.organization_id
        and expected.ssn_blind_index = received.ssn_blind_index
        and expected.pay_date = received.pay_date
        and expected.source_code = received.source_code
        and expected.loan_number = received.loan_number
),

final as (
    select
        md5(
            joined.organization_id::text || '|' || encode(joined.ssn_blind_index, 'hex') || '|'
            || joined.pay_date::text || '|' || joined.source_code || '|' || joined.loan_number
        ) as item_id,
        joined.organization_id,
        joined.employee_id,
        joined.employee_external_id,
        joined.pay_date,
        joined.source_code,
        joined.loan_number,
        coalesce(joined.expected_cents, 0) as expected_cents,
        coalesce(joined.confirmed_cents, 0) as confirmed_cents,
        coalesce(joined.confirmed_cents, 0) - coalesce(joined.expected_cents, 0) as variance_cents,
        case
            when joined.expected_cents is null then 'destination_only'
            when joined.confirmed_cents is null then 'source_only'
            when joined.expected_cents = joined.confirmed_cents then 'matched'
            else 'amount_mismatch'
        end as match_status,
        joined.deposit_date,
        confirmed_pay_dates.pay_date is not null as is_pay_date_confirmed
    from joined
    left join confirmed_pay_dates
        on confirmed_pay_dates.organization_id = joined.organization_id
        and confirmed_pay_dates.pay_date = joined.pay_date
)

select * from final

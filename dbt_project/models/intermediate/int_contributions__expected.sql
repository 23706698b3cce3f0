-- What SyncLinqs loaded (and exported): per tenant, employee, pay date, source and loan.
with

contributions as (
    select * from {{ ref('stg_core__contributions') }}
),

employees as (
    select * from {{ ref('stg_core__employees') }}
),

loans as (
    select * from {{ ref('stg_core__loans') }}
),

final as (
    select
        contributions.organization_id,
        contributions.employee_id,
        employees.employee_external_id,
        employees.ssn_blind_index,
        contributions.pay_date,
        contributions.source_code,
        coalesce(loans.loan_number, '') as loan_number,
        sum(contributions.amount_cents)::bigint as expected_cents
    from contributions
    inner join employees on employees.employee_id = contributions.employee_id
    left join loans on loans.loan_id = contributions.loan_id
    group by 1, 2, 3, 4, 5, 6, 7
)

select * from final

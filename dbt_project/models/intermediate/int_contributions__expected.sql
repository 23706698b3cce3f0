-- What SyncLinqs loaded (and exported): per tenant, employee, pay date, source and loan, at the grain
-- the tenant's recordkeeper confirms (a layout that carries catch-up inside the deferral column confirms
-- both as one amount; one that sums loans into one column confirms them without a loan number).
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

organizations as (
    select * from {{ ref('stg_core__organizations') }}
),

final as (
    select
        contributions.organization_id,
        contributions.employee_id,
        employees.employee_external_id,
        employees.ssn_blind_index,
        contributions.pay_date,
        {{ at_recordkeeper_grain('contributions.source_code', 'loans.loan_number') }},
        sum(contributions.amount_cents)::bigint as expected_cents
    from contributions
    inner join employees on employees.employee_id = contributions.employee_id
    left join organizations on organizations.organization_id = contributions.organization_id
    left join loans on loans.loan_id = contributions.loan_id
    group by 1, 2, 3, 4, 5, 6, 7
)

select * from final

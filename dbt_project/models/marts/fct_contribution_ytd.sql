-- Per employee and plan year: deferrals, catch-up, employer money and the headroom left under each IRS
-- limit. No personal data: employees are ids, ages come from the catch-up eligibility year.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'plan_year'],
        on_schema_change='fail',
    )
}}

with

contributions as (
    select * from {{ ref('stg_core__contributions') }}
    {% if is_incremental() %}
    where plan_year >= (select coalesce(max(plan_year), 1900) - 1 from {{ this }})
    {% endif %}
),

pay_records as (
    select * from {{ ref('stg_core__pay_records') }}
),

employees as (
    select * from {{ ref('stg_core__employees') }}
),

limits as (
    select * from {{ ref('irs_limits') }}
),

money as (
    select
        organization_id,
        employee_id,
        plan_year,
        coalesce(sum(amount_cents) filter (where source_code in ('PRETAX', 'ROTH')), 0)::bigint as elective_cents,
        coalesce(sum(amount_cents) filter (where source_code in ('CATCHUP_PRETAX', 'CATCHUP_ROTH')), 0)::bigint
            as catch_up_cents,
        coalesce(sum(amount_cents) filter (where source_code = 'AFTER_TAX'), 0)::bigint as after_tax_cents,
        coalesce(sum(amount_cents) filter (where source_code in (
            'MATCH', 'SAFE_HARBOR_MATCH', 'SAFE_HARBOR_NEC', 'PROFIT_SHARING', 'QNEC', 'QMAC')), 0)::bigint as employer_cents,
        coalesce(sum(amount_cents) filter (where source_code = 'LOAN'), 0)::bigint as loan_repayment_cents
    from contributions
    group by organization_id, employee_id, plan_year
),

compensation as (
    select employee_id, plan_year, sum(plan_compensation_cents)::bigint as plan_compensation_cents
    from pay_records
    group by employee_id, plan_year
),

final as (
    select
        md5(money.employee_id::text || '|' || money.plan_year::text) as ytd_id,
        money.organization_id,
        money.employee_id,
        employees.employee_external_id,
        money.plan_year,
        money.elective_cents,
        money.catch_up_cents,
        money.after_tax_cents,
        money.employer_cents,
        money.loan_repayment_cents,
        money.elective_cents + money.after_tax_cents + money.employer_cents as annual_additions_cents,
        coalesce(compensation.plan_compensation_cents, 0) as plan_compensation_cents,
        (money.plan_year - (employees.catch_up_eligible_year - 50))::integer as age_at_year_end,
        limits.elective_402g_cents - money.elective_cents as headroom_402g_cents,
        case
            when money.plan_year < employees.catch_up_eligible_year then 0
            when money.plan_year - (employees.catch_up_eligible_year - 50) between 60 and 63
                and limits.catch_up_60_63_cents is not null then limits.catch_up_60_63_cents
            else limits.catch_up_50_cents
        end - money.catch_up_cents as headroom_catch_up_cents,
        limits.annual_additions_415c_cents - (money.elective_cents + money.after_tax_cents + money.employer_cents)
            as headroom_415c_cents,
        limits.compensation_401a17_cents - coalesce(compensation.plan_compensation_cents, 0)
            as headroom_401a17_cents
    from money
    inner join employees on employees.employee_id = money.employee_id
    left join compensation
        on compensation.employee_id = money.employee_id
        and compensation.plan_year = money.plan_year
    left join limits on limits.plan_year = money.plan_year
)

select * from final

-- Per tenant and pay date: business days from the pay date to the deposit (29 CFR 2510.3-102), against
-- the 7-business-day safe harbor for plans under 100 participants and, for others, the outer bound of
-- the 15th business day of the following month. Loan repayments are counted with the deposits.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'pay_date'],
        on_schema_change='fail',
    )
}}

with

confirmations as (
    select * from {{ ref('stg_core__recordkeeper_confirmations') }}
    {{ recent_only('pay_date') }}
),

plans as (
    select * from {{ ref('stg_core__plans') }}
),

calendar as (
    select * from {{ ref('int_calendar__business_days') }}
),

deposits as (
    select
        organization_id,
        pay_date,
        max(deposit_date) as deposit_date,
        sum(amount_cents)::bigint as deposited_cents,
        bool_or(source_code = 'LOAN') as includes_loan_repayments
    from confirmations
    group by organization_id, pay_date
),

plan_size as (
    select organization_id, bool_and(is_small_plan) as is_small_plan
    from plans
    group by organization_id
),

final as (
    select
        md5(deposits.organization_id::text || '|' || deposits.pay_date::text) as timeliness_id,
        deposits.organization_id,
        deposits.pay_date,
        deposits.deposit_date,
        deposits.deposited_cents,
        deposits.includes_loan_repayments,
        coalesce(plan_size.is_small_plan, false) as is_small_plan,
        (deposited.business_day_number - paid.business_day_number)::integer as business_days_to_deposit,
        safe_harbor.calendar_date as safe_harbor_deadline_date,
        outer_bound.calendar_date as outer_bound_date,
        deposits.deposit_date > case
            when coalesce(plan_size.is_small_plan, false) then safe_harbor.calendar_date
            else outer_bound.calendar_date
        end as is_late
    from deposits
    left join plan_size on plan_size.organization_id = deposits.organization_id
    inner join calendar as paid on paid.calendar_date = deposits.pay_date
    inner join calendar as deposited on deposited.calendar_date = deposits.deposit_date
    inner join calendar as safe_harbor
        on safe_harbor.is_business_day
        and safe_harbor.business_day_number = paid.business_day_number + 7
    inner join calendar as outer_bound
        on outer_bound.month_start_date = (date_trunc('month', deposits.pay_date) + interval '1 month')::date
        and outer_bound.business_day_of_month = 15
)

select * from final

-- Every day 2024-2028 with its business-day number: weekdays that are not Federal Reserve holidays.
-- business_day_number(d2) - business_day_number(d1) counts the business days after d1 up to d2.
with

days as (
    select generate_series('2024-01-01'::date, '2028-12-31'::date, interval '1 day')::date as calendar_date
),

holidays as (
    select * from {{ ref('federal_reserve_holidays') }}
),

flagged as (
    select
        days.calendar_date,
        extract(isodow from days.calendar_date) < 6 and holidays.holiday_date is null as is_business_day
    from days
    left join holidays on holidays.holiday_date = days.calendar_date
),

final as (
    select
        calendar_date,
        is_business_day,
        sum(case when is_business_day then 1 else 0 end) over (order by calendar_date) as business_day_number,
        date_trunc('month', calendar_date)::date as month_start_date,
        case when is_business_day then
            sum(case when is_business_day then 1 else 0 end) over (
                partition by date_trunc('month', calendar_date) order by calendar_date)
        end as business_day_of_month
    from flagged
)

select * from final

-- The daily report's totals are the sums of its items: any row returned is a failure.
with

items as (
    select organization_id, pay_date, sum(expected_cents) as expected_cents, sum(confirmed_cents) as confirmed_cents,
           count(*) as items_total
    from {{ ref('fct_reconciliation_items') }}
    group by organization_id, pay_date
),

daily as (
    select * from {{ ref('rpt_reconciliation_daily') }}
)

select daily.report_id
from daily
left join items
    on items.organization_id = daily.organization_id
    and items.pay_date = daily.reconciliation_date
where items.pay_date is null
    or daily.expected_cents <> items.expected_cents
    or daily.confirmed_cents <> items.confirmed_cents
    or daily.items_total <> items.items_total
    or daily.items_total <> daily.items_matched + daily.items_source_only + daily.items_destination_only
        + daily.items_amount_mismatch

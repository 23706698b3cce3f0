with

source as (
    select * from {{ source('core', 'file_exports') }}
),

final as (
    select
        id as file_export_id,
        organization_id,
        pay_date,
        destination_system,
        record_count,
        control_total_cents,
        status as export_status,
        created_at as exported_at
    from source
    where status <> 'superseded'
)

select * from final

with

source as (
    select * from {{ source('core', 'reconciliation_resolutions') }}
),

final as (
    select
        id as resolution_id,
        organization_id,
        item_id,
        action as resolution_action,
        note as resolution_note,
        resolved_by,
        created_at as resolved_at
    from source
)

select * from final

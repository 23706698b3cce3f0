-- No encrypted column leaves the core schema: marts identify people by id, external id and blind index.
with

source as (
    select * from {{ source('core', 'employees') }}
),

final as (
    select
        id as employee_id,
        organization_id,
        external_id as employee_external_id,
        ssn_blind_index,
        catch_up_eligible_year,
        hire_date,
        termination_date,
        employment_status
    from source
    where deleted_at is null
)

select * from final

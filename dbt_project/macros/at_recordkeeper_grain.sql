{#
    source_code and loan_number as the tenant's recordkeeper confirms them (needs `organizations`, the
    staging model, joined): a source its layout carries inside another's column takes that column's code;
    loans summed into one column have no number.
#}
{% macro at_recordkeeper_grain(source_code, loan_number) %}
        coalesce(organizations.confirmed_source_codes ->> {{ source_code }}, {{ source_code }}) as source_code,
        case
            when coalesce(organizations.confirms_loans_by_number, true) then coalesce({{ loan_number }}, '')
            else ''
        end as loan_number
{%- endmacro %}

{#-
    In an incremental run, keep only the rows of the last `reconcile_lookback_days` before the newest
    date the model already holds (the marts' delete+insert replaces those dates whole).
-#}
{% macro recent_only(column, this_column=none, lookback=none) -%}
    {%- if is_incremental() -%}
    where {{ column }} >= (
        select coalesce(max({{ this_column or column }}), '1900-01-01'::date) - {{ lookback or var('reconcile_lookback_days') }}
        from {{ this }}
    )
    {%- endif -%}
{%- endmacro %}

"""dbt, run by dagster-dbt as the transformer role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from synclinqs_pipelines.settings import get_settings

# The dbt installed beside this Python: the run worker's PATH need not include the virtualenv.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
DBT_PROJECT = DbtProject(project_dir=get_settings().dbt_project_dir, profiles_dir=get_settings().dbt_project_dir)


def parse_dbt_project() -> None:
    """Write target/manifest.json (`dbt parse` needs no database connection)."""
    subprocess.run(
        [
            DBT_EXECUTABLE,
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT.project_dir),
            "--profiles-dir",
            str(DBT_PROJECT.profiles_dir),
        ],
        check=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
        stdout=subprocess.DEVNULL,
    )


if not DBT_PROJECT.manifest_path.exists() or os.environ.get("DAGSTER_IS_DEV_CLI"):
    parse_dbt_project()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE)})

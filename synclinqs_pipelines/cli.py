"""The `synclinqs` command: warehouse set-up, tenants, keys, audit, mapping dry runs, demo data, dev server."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from synclinqs_pipelines.settings import get_settings


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _warehouse() -> Any:
    from synclinqs_pipelines.warehouse.connection import default_cluster
    from synclinqs_pipelines.warehouse.session import Warehouse

    return Warehouse(default_cluster())


def _catalog() -> Any:
    from synclinqs_pipelines.mapping.catalog import get_catalog
    from synclinqs_pipelines.mapping.errors import SpecError

    try:
        return get_catalog()
    except SpecError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SyncLinqs: 401(k) payroll to recordkeeper integration."""


# ---- db ---------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The warehouse: provision, migrate, seed."""


@db.command("provision")
def db_provision() -> None:
    """Create the database and roles (the only step that uses the cluster administrator)."""
    from synclinqs_pipelines.warehouse.connection import default_cluster
    from synclinqs_pipelines.warehouse.provision import provision

    cluster = default_cluster()
    provision(cluster)
    click.echo(f"provisioned database {cluster.database} and roles")


@db.command("migrate")
def db_migrate() -> None:
    """Bring the warehouse schema to the newest migration (as the owner role)."""
    from synclinqs_pipelines.warehouse.connection import default_cluster
    from synclinqs_pipelines.warehouse.migrate import upgrade

    click.echo(f"warehouse at migration {upgrade(default_cluster())}")


@db.command("seed")
@click.option("--demo", is_flag=True, help="Demo tenants from mapping_specs/tenants plus demo users.")
def db_seed(demo: bool) -> None:
    """Upsert tenants from their spec files; with --demo, also demo users."""
    from synclinqs_pipelines.security.key_providers import provider_from_settings
    from synclinqs_pipelines.security.keyring import KeyRing
    from synclinqs_pipelines.warehouse.tenants import seed_demo_users, sync_tenants

    catalog = _catalog()
    warehouse = _warehouse()
    report = sync_tenants(
        warehouse, catalog.load_tenants(), KeyRing(provider_from_settings()), catalog, actor="cli:seed"
    )
    click.echo(
        f"tenants: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.deactivated)} deactivated"
    )
    if demo:
        for slug in report.tenants:
            seed_demo_users(warehouse, warehouse.tenant_by_slug(slug), actor="cli:seed")
        click.echo(f"demo users seeded for {len(report.tenants)} tenants")


@db.command("url")
@click.option("--role", default="synclinqs_pipeline", show_default=True)
def db_url(role: str) -> None:
    """Print a libpq connection string for a role (for psql)."""
    from synclinqs_pipelines.warehouse.connection import default_cluster

    click.echo(default_cluster().dsn_for(role))


@main.group()
def tenants() -> None:
    """Tenants from mapping_specs/tenants."""


@tenants.command("sync")
def tenants_sync() -> None:
    """Upsert organizations, plans and keys from the tenant files."""
    from synclinqs_pipelines.security.key_providers import provider_from_settings
    from synclinqs_pipelines.security.keyring import KeyRing
    from synclinqs_pipelines.warehouse.tenants import sync_tenants

    catalog = _catalog()
    report = sync_tenants(
        _warehouse(), catalog.load_tenants(), KeyRing(provider_from_settings()), catalog, actor="cli:tenants-sync"
    )
    click.echo(json.dumps(report.__dict__, indent=2))


# ---- keys and audit ---------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Per-tenant encryption keys."""


@keys.command("rotate")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
def keys_rotate(slug: str) -> None:
    """New data key version for a tenant; every encrypted value is moved onto it."""
    from synclinqs_pipelines.security.key_providers import provider_from_settings
    from synclinqs_pipelines.security.keyring import KeyRing
    from synclinqs_pipelines.warehouse.keys import rotate_data_key
    from synclinqs_pipelines.warehouse.session import UnknownTenantError

    warehouse = _warehouse()
    try:
        tenant = warehouse.tenant_by_slug(slug)
    except UnknownTenantError as exc:
        _fail(str(exc))
    report = rotate_data_key(warehouse, tenant, KeyRing(provider_from_settings()), actor="cli:keys-rotate")
    click.echo(
        f"{slug}: data key version {report.new_version}; re-encrypted {report.values_reencrypted} values "
        f"in {report.rows_reencrypted} rows"
    )


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check every link of the chain; exit 1 and name the first broken entry if one is found."""
    from synclinqs_pipelines.security.audit import verify_chain
    from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, default_cluster, engine_for

    # The owner reads the whole chain; the pipeline role sees only one tenant's entries at a time.
    with engine_for(default_cluster(), ROLE_OWNER).connect() as conn:
        report = verify_chain(conn)
    if report.ok:
        click.echo(f"audit chain intact: {report.entries_checked} entries verified")
        return
    click.echo(
        f"audit chain BROKEN at entry {report.first_broken_id}: {report.reason} "
        f"({report.entries_checked} entries read)",
        err=True,
    )
    sys.exit(1)


# ---- mapping ----------------------------------------------------------------------------------------


@main.group()
def mapping() -> None:
    """Mapping specs: list, validate, diff, dry-run."""


@mapping.command("list")
def mapping_list() -> None:
    """Systems and templates (every payroll x recordkeeper pair resolves through the canonical hub)."""
    catalog = _catalog()
    click.echo("systems:")
    for name in catalog.known_systems():
        s = catalog.systems[name]
        fmt = s.file.format if s.file else "-"
        click.echo(
            f"  {name:<20} {s.kind:<13} {fmt:<12} {'verified' if s.verified else 'unverified'}  "
            f"aliases: {', '.join(s.aliases) or '-'}"
        )
    click.echo("templates:")
    for name in catalog.template_names():
        marker = " (pair file)" if name in catalog.templates else ""
        click.echo(f"  {name}{marker}")


@mapping.command("validate")
@click.argument("specs", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def mapping_validate(specs: tuple[Path, ...]) -> None:
    """Check spec files (systems, templates or tenants); with none, every spec under mapping_specs/."""
    from synclinqs_pipelines.mapping.catalog import SpecCatalog, load_model, spec_kind
    from synclinqs_pipelines.mapping.errors import SpecError
    from synclinqs_pipelines.mapping.spec import SystemSpec, TemplateSpec

    problems = 0
    try:
        catalog = SpecCatalog(get_settings().specs_dir)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    paths = list(specs) or sorted(get_settings().specs_dir.glob("*/*.yaml"))
    for path in paths:
        kind = spec_kind(path)
        try:
            if kind == "tenants":
                catalog.load_tenant(path)
            elif kind == "systems":
                load_model(path, SystemSpec)
            elif kind == "templates":
                catalog.check_template(load_model(path, TemplateSpec), path)
            else:
                raise SpecError(path, ["not under systems/, templates/ or tenants/"])
        except SpecError as exc:
            problems += 1
            click.echo(str(exc), err=True)
        else:
            click.echo(f"ok  {path}")
    if problems:
        sys.exit(1)
    if not specs:
        for name in catalog.template_names():
            catalog.resolve(name)
        click.echo(f"ok  all {len(catalog.template_names())} templates resolve")


@mapping.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def mapping_diff(old: Path, new: Path) -> None:
    """What changes between two versions of a spec, field by field."""
    from synclinqs_pipelines.mapping.diff import diff_specs
    from synclinqs_pipelines.mapping.errors import SpecError

    try:
        lines = diff_specs(old, new)
    except SpecError as exc:
        _fail(str(exc))
    click.echo("\n".join(lines) if lines else "no changes")


@mapping.command("test")
@click.option("--template", required=True, help="e.g. adp_to_fidelity, gusto_to_relius")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--errors", "errors_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tenant", "slug", default=None, help="Apply this tenant's overrides and lookups.")
@click.option("--pay-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Defaults to the file's.")
def mapping_test(
    template: str,
    input_path: Path,
    output_path: Path,
    errors_path: Path,
    slug: str | None,
    pay_date: dt.datetime | None,
) -> None:
    """Dry run: map a payroll file to the destination layout without touching the warehouse.

    Exits 0 when the file was processed, even with rejected rows (see the errors CSV); non-zero only for
    a whole-file error.
    """
    from synclinqs_pipelines.mapping.dryrun import dry_run
    from synclinqs_pipelines.mapping.errors import MappingFileError, SpecError

    catalog = _catalog()
    tenant = None
    if slug:
        tenant_path = catalog.root / "tenants" / f"{slug}.yaml"
        if not tenant_path.exists():
            _fail(f"no tenant file {tenant_path}")
        try:
            tenant = catalog.load_tenant(tenant_path)
        except SpecError as exc:
            _fail(str(exc))
    try:
        summary = dry_run(
            catalog, template, input_path, output_path, errors_path, tenant, pay_date.date() if pay_date else None
        )
    except (MappingFileError, SpecError) as exc:
        _fail(str(exc))
    click.echo(summary.render())


@mapping.command("schema")
@click.option("--check", is_flag=True, help="Exit 1 if the checked-in schemas are out of date.")
def mapping_schema(check: bool) -> None:
    """Write the JSON Schemas editors use (mapping_specs/schema/*.schema.json)."""
    from synclinqs_pipelines.mapping.schema import write_schemas

    stale = write_schemas(get_settings().specs_dir / "schema", check=check)
    if check and stale:
        _fail("out of date: " + ", ".join(stale) + "; run `synclinqs mapping schema`")
    click.echo("schemas " + ("checked" if check else "written"))


# ---- demo -------------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Synthetic data for the demo tenants."""


@demo.command("generate")
@click.option("--inbox", type=click.Path(file_okay=False, path_type=Path), default=None)
def demo_generate(inbox: Path | None) -> None:
    """Write the demo payroll files into each tenant's inbox folder."""
    from synclinqs_pipelines.demo.generate import generate

    target = inbox or get_settings().inbox
    written = generate(target)
    click.echo(f"wrote {len(written)} payroll files under {target}")


@demo.command("recordkeeper")
@click.option("--tenant", "slugs", multiple=True, help="Tenant slug (default: every demo tenant).")
@click.option("--inject", default="", help="Discrepancies to inject: any of missing,amount,extra,late.")
@click.option("--seed", default=7, show_default=True)
@click.option("--business-days", default=2, show_default=True, help="Business days from pay date to deposit.")
def demo_recordkeeper(slugs: tuple[str, ...], inject: str, seed: int, business_days: int) -> None:
    """Play the recordkeeper: confirm each tenant's exports into <inbox>/<tenant>/confirmations/."""
    import sqlalchemy as sa

    from synclinqs_pipelines.defs.landing.resources import landing_resource
    from synclinqs_pipelines.demo.recordkeeper import DISCREPANCIES, confirm_export, write_confirmation

    kinds = tuple(k for k in inject.split(",") if k)
    unknown = sorted(set(kinds) - set(DISCREPANCIES))
    if unknown:
        _fail(f"unknown discrepancy {', '.join(unknown)}; choose from {', '.join(DISCREPANCIES)}")
    catalog, warehouse, outbox = _catalog(), _warehouse(), landing_resource().outbox
    tenants = catalog.load_tenants()
    for slug in slugs or sorted(tenants):
        system = catalog.system(tenants[slug].recordkeeper.system)
        with warehouse.tenant(warehouse.tenant_by_slug(slug), actor="demo-recordkeeper") as conn:
            exports = conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (pay_date) pay_date, uri FROM core.file_exports"
                    " WHERE status IN ('written', 'pending', 'delivered') ORDER BY pay_date, created_at DESC"
                )
            ).all()
        for i, (pay_date, uri) in enumerate(exports):
            confirmation = confirm_export(
                outbox.get(uri), system, pay_date, seed=seed + i, inject=kinds, deposit_business_days=business_days
            )
            path = write_confirmation(get_settings().inbox, slug, pay_date, confirmation)
            notes = "; ".join(f"{d.kind} {d.detail}" for d in confirmation.injected) or "no discrepancy"
            click.echo(f"{slug} {pay_date}: {confirmation.rows} confirmations -> {path.name} ({notes})")


@main.group()
def recon() -> None:
    """Reconciliation items."""


@recon.command("resolve")
@click.argument("item_id")
@click.option("--tenant", "slug", required=True)
@click.option("--action", required=True, type=click.Choice(["manual_review", "auto_corrected", "ignored"]))
@click.option("--note", default="", help="Why, for the next person.")
@click.option("--by", "actor", default=None, help="Who decided (default: the OS user).")
def recon_resolve(item_id: str, slug: str, action: str, note: str, actor: str | None) -> None:
    """Record a decision on a reconciliation item; the marts join it and the audit log names the actor."""
    import getpass

    from synclinqs_pipelines.reconciliation.resolutions import ResolutionError, record_resolution

    warehouse = _warehouse()
    try:
        rid = record_resolution(
            warehouse, warehouse.tenant_by_slug(slug), item_id, action, note, actor=f"user:{actor or getpass.getuser()}"
        )
    except ResolutionError as exc:
        _fail(str(exc))
    click.echo(f"resolution {rid} recorded; it shows in marts.fct_reconciliation_items after the next dbt build")


@main.group()
def analysts() -> None:
    """Analyst roles: read the marts of the tenants granted to them, nothing else."""


@analysts.command("create")
@click.argument("role")
@click.option("--password", default=None, help="Login password (omit for local trust authentication).")
def analysts_create(role: str, password: str | None) -> None:
    """Create an analyst login role (member of synclinqs_analyst)."""
    from synclinqs_pipelines.warehouse.analysts import create_analyst
    from synclinqs_pipelines.warehouse.connection import default_cluster

    create_analyst(default_cluster(), role, password)
    click.echo(f"analyst role {role} created; grant tenants with `synclinqs analysts grant {role} --tenant SLUG`")


@analysts.command("grant")
@click.argument("role")
@click.option("--tenant", "slugs", multiple=True, required=True)
def analysts_grant(role: str, slugs: tuple[str, ...]) -> None:
    """Let an analyst role read these tenants' rows in the marts."""
    from synclinqs_pipelines.warehouse.analysts import grant_tenants
    from synclinqs_pipelines.warehouse.connection import default_cluster

    grant_tenants(default_cluster(), role, list(slugs))
    click.echo(f"{role} may read {', '.join(slugs)}")


# ---- sftp -------------------------------------------------------------------------------------------


@main.group()
def sftp() -> None:
    """The SFTP endpoint for payroll providers."""


@sftp.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: SYNCLINQS_SFTP_PORT or 2222.")
def sftp_serve(host: str, port: int | None) -> None:
    """Serve every tenant's inbox over SFTP (accounts from the tenant files, secrets from the environment)."""
    from synclinqs_pipelines.sftp.server import accounts_from_tenants, serve_forever

    settings = get_settings()
    warehouse = _warehouse()
    accounts = accounts_from_tenants(_catalog().load_tenants(), settings.sftp_root)
    if not accounts:
        _fail("no tenant has an sftp_inbound account with a key or a password hash in its environment variable")

    def audit(event: str, tenant: str | None, details: dict[str, object]) -> None:
        org = warehouse.tenant_by_slug(tenant).id if tenant else None
        warehouse.record_event(event, org, details, actor="sftp-server")

    click.echo(f"SFTP on {host}:{port or settings.sftp_port} for {', '.join(sorted(accounts))}")
    serve_forever(accounts, host, port or settings.sftp_port, settings.sftp_host_key, audit)


@sftp.command("hash-password")
@click.password_option()
def sftp_hash_password(password: str) -> None:
    """Print the scrypt hash of a tenant's SFTP password, for the env var its tenant file names."""
    from synclinqs_pipelines.sftp.server import hash_password

    click.echo(hash_password(password))


# ---- pipeline ---------------------------------------------------------------------------------------


@main.group()
def pipeline() -> None:
    """Partitions of the payroll pipeline."""


@pipeline.command("run")
@click.option("--tenant", "slug", required=True)
@click.option("--pay-date", required=True, type=click.DateTime(["%Y-%m-%d"]))
def pipeline_run(slug: str, pay_date: dt.datetime) -> None:
    """Materialize one tenant x pay date partition now, in this process (same as a re-run in the UI)."""
    import dagster as dg

    from synclinqs_pipelines.definitions import defs
    from synclinqs_pipelines.defs.partitions import TENANT_TAG, partition_key, tenant_partitions

    home = get_settings().dagster_home
    prepare_dagster_home(home)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition(tenant_partitions.name, slug):
            instance.add_dynamic_partitions(tenant_partitions.name, [slug])
        result = (
            defs()
            .resolve_job_def("payroll_partition_job")
            .execute_in_process(
                partition_key=partition_key(slug, pay_date.date().isoformat()),
                instance=instance,
                tags={TENANT_TAG: slug},
                raise_on_error=False,
            )
        )
    click.echo(f"run {result.run_id}: {'succeeded' if result.success else 'failed'}")
    sys.exit(0 if result.success else 1)


# ---- dev --------------------------------------------------------------------------------------------


def prepare_dagster_home(home: Path) -> Path:
    """DAGSTER_HOME/dagster.yaml from the project's dagster.yaml, plus Postgres storage when configured."""
    home.mkdir(parents=True, exist_ok=True)
    text = (get_settings().project_root / "dagster.yaml").read_text()
    url = os.environ.get("SYNCLINQS_DAGSTER_PG_URL")
    if url and url.startswith(("postgresql://", "postgres://")):
        # dagster-postgres needs psycopg2 (its NOTIFY takes client-side parameters); with SQLAlchemy 2.1
        # a bare postgresql:// URL would pick psycopg 3. Child processes inherit the explicit driver.
        os.environ["SYNCLINQS_DAGSTER_PG_URL"] = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url:
        text += "\nstorage:\n  postgres:\n    postgres_url:\n      env: SYNCLINQS_DAGSTER_PG_URL\n"
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


@main.command("dev")
@click.option("--port", default=3000, show_default=True)
@click.option("--no-demo", is_flag=True, help="Skip the demo files.")
@click.option("--no-sftp", is_flag=True, help="Do not start the SFTP server.")
def dev(port: int, no_demo: bool, no_sftp: bool) -> None:
    """Everything `make run` does after installing: database, migrations, demo, SFTP, Dagster UI."""
    ctx = click.get_current_context()
    ctx.invoke(db_provision)
    ctx.invoke(db_migrate)
    ctx.invoke(db_seed, demo=True)
    settings = get_settings()
    if not no_demo:
        ctx.invoke(demo_generate, inbox=None)
    prepare_dagster_home(settings.dagster_home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home),
        "DO_NOT_TRACK": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "SYNCLINQS_DEMO": "0" if no_demo else "1",
    }
    children = []
    if not no_sftp:
        from synclinqs_pipelines.sftp.server import hash_password

        # Demo accounts: username = tenant slug, password demo-<slug>, unless the environment sets a hash.
        for slug, spec in _catalog().load_tenants().items():
            var = spec.sftp_inbound.password_hash_env if spec.sftp_inbound else None
            if var and not env.get(var):
                env[var] = hash_password(f"demo-{slug}")
        children.append(subprocess.Popen([sys.executable, "-m", "synclinqs_pipelines.cli", "sftp", "serve"], env=env))
        click.echo(f"SFTP on 127.0.0.1:{settings.sftp_port}: user <tenant-slug>, password demo-<tenant-slug>")
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(settings.project_root / "workspace.yaml"),
    ]
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (sensors and schedules on); Ctrl-C stops everything")
    children.append(subprocess.Popen(cmd, env=env, cwd=settings.project_root))
    _supervise(children)


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    """Wait for the last child (Dagster); on Ctrl-C, `kill` (SIGTERM) or its exit, stop them all in order.

    Each child gets SIGINT, which Dagster answers by stopping its daemon, webserver and code server (a
    SIGKILL would leave those running); one that has not stopped after 30 seconds is killed.
    """
    import signal

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        children[-1].wait()
    except KeyboardInterrupt:
        # A Ctrl-C in the terminal reached the children too: give them a moment to stop by themselves.
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()

"""SFTP both ways, against real servers on localhost: tenants upload, exports are delivered."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa

from synclinqs_pipelines.settings import get_settings
from synclinqs_pipelines.sftp import delivery as delivery_module
from synclinqs_pipelines.sftp.delivery import DeliveryFailed, Destination, deliver, fingerprint
from synclinqs_pipelines.sftp.server import Account, LockoutBook, hash_password, host_key, start_server
from tests.e2e.conftest import evaluate, run_partition

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopThread:
    """An asyncio loop in a thread, for servers the synchronous tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def loop():
    lt = LoopThread()
    yield lt
    lt.stop()


@pytest.fixture(scope="module")
def inbound(loop, tmp_path_factory, warehouse, cluster):
    keys = tmp_path_factory.mktemp("sftp-keys")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    inbox = get_settings().inbox
    accounts = {
        "acme-manufacturing": Account(
            "acme-manufacturing",
            "acme",
            inbox / "acme-manufacturing",
            5_000_000,
            password_hash=hash_password("acme-secret"),
        ),
        "bluebird-health": Account(
            "bluebird-health",
            "bluebird",
            inbox / "bluebird-health",
            5_000_000,
            authorized_keys=[client_key.convert_to_public()],
        ),
    }
    events: list[tuple[str, str | None, dict]] = []

    def audit(event, tenant, details):  # type: ignore[no-untyped-def]
        events.append((event, tenant, details))
        org = warehouse.tenant_by_slug(tenant).id if tenant else None
        warehouse.record_event(event, org, details, actor="sftp-server")

    port = free_port()
    book = LockoutBook(threshold=3, seconds=2)
    server = loop.run(
        start_server(accounts, host="127.0.0.1", port=port, host_key_path=keys / "host", audit=audit, lockouts=book)
    )
    yield {"port": port, "client_key": client_key, "events": events, "inbox": inbox}
    server.close()


async def _sftp_session(port: int, username: str, **auth):  # type: ignore[no-untyped-def]
    return await asyncssh.connect("127.0.0.1", port, username=username, known_hosts=None, **auth)


def _upload(loop, port, username, remote, data, **auth):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with await _sftp_session(port, username, **auth) as conn, conn.start_sftp_client() as sftp:
            async with sftp.open(remote, "wb") as fh:
                await fh.write(data)
            return sorted(await sftp.listdir("."))

    return loop.run(go())


def test_a_tenant_uploads_and_the_partition_materializes(demo, inbound, loop, definitions, instance, warehouse):
    from synclinqs_pipelines.defs.landing.sensors import payroll_landing_sensor
    from synclinqs_pipelines.demo.generate import DEMO_TENANTS, encode, make_people, period_row, write_payroll

    acme = DEMO_TENANTS[0]
    rows = [period_row(p, dt.date(2026, 2, 20), acme.plan_code) for p in make_people(acme.seed, acme.employees)[20:40]]
    data = write_payroll("adp_workforce_now", encode("adp_workforce_now", rows))
    listing = _upload(loop, inbound["port"], "acme", "payroll_20260220.csv", data, password="acme-secret")
    assert "payroll_20260220.csv" in listing and not [n for n in listing if n.endswith(".part")]
    assert (inbound["inbox"] / "acme-manufacturing" / "payroll_20260220.csv").read_bytes() == data
    result = evaluate(payroll_landing_sensor, definitions, instance)
    [request] = result.run_requests
    assert request.partition_key.keys_by_dimension == {"tenant": "acme-manufacturing", "pay_date": "2026-02-20"}
    assert run_partition(definitions, instance, "acme-manufacturing", "2026-02-20", request.tags).success
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(DISTINCT employee_id) FROM core.contributions WHERE pay_date = '2026-02-20'")
            ).scalar_one()
            == 20
        )
        uploads = (
            conn.execute(sa.text("SELECT details->>'file_name' FROM audit.audit_logs WHERE operation = 'sftp_upload'"))
            .scalars()
            .all()
        )
    assert "payroll_20260220.csv" in uploads


def test_tenants_cannot_reach_each_other_or_escape(inbound, loop):
    blue = inbound["inbox"] / "bluebird-health"
    blue.mkdir(parents=True, exist_ok=True)
    (blue / "private.csv").write_bytes(b"bluebird only")
    acme_root = inbound["inbox"] / "acme-manufacturing"
    os.symlink(blue, acme_root / "sneaky-link")

    async def probe():  # type: ignore[no-untyped-def]
        outcomes = {}
        async with (
            await _sftp_session(inbound["port"], "acme", password="acme-secret") as conn,
            conn.start_sftp_client() as sftp,
        ):
            outcomes["root"] = sorted(await sftp.listdir("/"))
            outcomes["dotdot"] = sorted(await sftp.listdir("/../.."))
            for name, path in (
                ("read_other", "/../bluebird-health/private.csv"),
                ("read_via_symlink", "/sneaky-link/private.csv"),
            ):
                try:
                    async with sftp.open(path, "rb") as fh:
                        outcomes[name] = await fh.read()
                except (asyncssh.SFTPError, OSError) as exc:
                    outcomes[name] = type(exc).__name__
            try:
                await sftp.symlink("/etc/passwd", "/passwd-link")
                outcomes["symlink"] = "created"
            except asyncssh.SFTPError as exc:
                outcomes["symlink"] = type(exc).__name__
            try:
                async with sftp.open("/../bluebird-health/planted.csv", "wb") as fh:
                    await fh.write(b"x")
            except asyncssh.SFTPError:
                pass
        return outcomes

    try:
        out = loop.run(probe())
    finally:
        (acme_root / "sneaky-link").unlink()
    assert "private.csv" not in out["root"] and out["dotdot"] == out["root"]
    assert out["read_other"] in ("SFTPNoSuchFile", "SFTPPermissionDenied")
    assert out["read_via_symlink"] == "SFTPPermissionDenied"
    assert out["symlink"] == "SFTPPermissionDenied"
    assert not (blue / "planted.csv").exists()
    assert (blue / "private.csv").read_bytes() == b"bluebird only"


def test_wrong_credentials_are_refused_and_repeated_failures_lock(inbound, loop, warehouse):
    wrong_key = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        loop.run(_sftp_session(inbound["port"], "bluebird", client_keys=[wrong_key], password=None))
    ok = _upload(loop, inbound["port"], "bluebird", "key-auth.csv", b"a,b\n", client_keys=[inbound["client_key"]])
    assert "key-auth.csv" in ok
    (inbound["inbox"] / "bluebird-health" / "key-auth.csv").unlink()
    for _ in range(3):
        with pytest.raises(asyncssh.PermissionDenied):
            loop.run(_sftp_session(inbound["port"], "acme", password="wrong"))
    with pytest.raises(asyncssh.PermissionDenied):
        loop.run(_sftp_session(inbound["port"], "acme", password="acme-secret"))  # locked, even with the right one
    time.sleep(2.2)
    assert "ok.csv" in _upload(loop, inbound["port"], "acme", "ok.csv", b"x\n", password="acme-secret")
    (inbound["inbox"] / "acme-manufacturing" / "ok.csv").unlink()
    kinds = [e[0] for e in inbound["events"]]
    assert kinds.count("sftp_login_failed") >= 4 and "sftp_login_locked" in kinds
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        locked = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.audit_logs WHERE operation = 'sftp_login_failed'"
                " AND (details->>'locked')::boolean"
            )
        ).scalar_one()
    assert locked >= 1


def test_an_upload_cut_off_mid_file_leaves_nothing_and_a_retry_succeeds(inbound, loop):
    folder = inbound["inbox"] / "acme-manufacturing"

    async def cut_off():  # type: ignore[no-untyped-def]
        conn = await _sftp_session(inbound["port"], "acme", password="acme-secret")
        sftp = await conn.start_sftp_client()
        fh = await sftp.open("big.csv", "wb")
        await fh.write(b"x" * 100_000)
        conn.abort()  # the connection dies with the file open

    loop.run(cut_off())
    deadline = time.time() + 10
    while time.time() < deadline and any(p.name.endswith(".part") for p in folder.iterdir()):
        time.sleep(0.1)
    assert not (folder / "big.csv").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]
    _upload(loop, inbound["port"], "acme", "big.csv", b"y" * 100_000, password="acme-secret")
    assert (folder / "big.csv").read_bytes() == b"y" * 100_000
    (folder / "big.csv").unlink()


def test_files_over_the_tenant_limit_are_refused(inbound, loop):
    with pytest.raises(asyncssh.SFTPFailure, match="byte limit"):
        _upload(loop, inbound["port"], "acme", "huge.csv", b"z" * 5_000_001, password="acme-secret")
    assert not (inbound["inbox"] / "acme-manufacturing" / "huge.csv").exists()


# ---- outbound ---------------------------------------------------------------------------------------


class RecordkeeperServer:
    """A recordkeeper's SFTP server on localhost that can drop connections or be down."""

    def __init__(self, loop: LoopThread, root: Path, key_path: Path) -> None:
        self.loop, self.root, self.key_path = loop, root, key_path
        self.port = free_port()
        self.server = None
        self.drop_every = 0
        self.connections = 0
        root.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        outer = self

        class Server(asyncssh.SSHServer):  # type: ignore[misc]
            def connection_made(self, conn):  # type: ignore[no-untyped-def]
                outer.connections += 1
                if outer.drop_every and outer.connections % outer.drop_every == 0:
                    conn.abort()

            def password_auth_supported(self):  # type: ignore[no-untyped-def]
                return True

            def validate_password(self, username, password):  # type: ignore[no-untyped-def]
                return (username, password) == ("synclinqs", "rk-secret")

        async def listen():  # type: ignore[no-untyped-def]
            return await asyncssh.create_server(
                Server,
                "127.0.0.1",
                self.port,
                server_host_keys=[host_key(self.key_path)],
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
            )

        self.server = self.loop.run(listen())

    def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None

            async def close() -> None:
                server.close()
                await asyncio.sleep(0.1)

            self.loop.run(close())

    @property
    def fingerprint(self) -> str:
        return fingerprint(host_key(self.key_path))


@pytest.fixture
def recordkeeper(loop, tmp_path):
    rk = RecordkeeperServer(loop, tmp_path / "remote", tmp_path / "rk_host_key")
    rk.start()
    yield rk
    rk.stop()


def _destination(rk: RecordkeeperServer, pin: str | None = None) -> Destination:
    from synclinqs_pipelines.mapping.spec import SftpOutboundSpec

    spec = SftpOutboundSpec(
        host="127.0.0.1",
        port=rk.port,
        username="synclinqs",
        password_env="RK_PASSWORD",
        host_key_fingerprint=pin or rk.fingerprint,
        remote_dir="/",
    )
    return Destination(spec, None, "rk-secret")


def _exports(warehouse, tenant, n: int) -> list[uuid.UUID]:
    ids = []
    with warehouse.tenant(tenant, actor="test") as conn:
        for i in range(n):
            ids.append(
                conn.execute(
                    sa.text(
                        "INSERT INTO core.file_exports (organization_id, pay_date, destination_system, file_name, uri,"
                        " digest_sha256, size_bytes, record_count, control_total_cents) VALUES (:o, :d, 'fidelity', :n,"
                        " 'file:///x', 'x', 1, 1, 1) RETURNING id"
                    ),
                    {"o": tenant.id, "d": dt.date(2026, 1, 9) + dt.timedelta(days=14 * i), "n": f"f{i}.csv"},
                ).scalar_one()
            )
    return ids


def _attempts(warehouse, tenant, export_id):  # type: ignore[no-untyped-def]
    with warehouse.tenant(tenant, actor="test") as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT attempt, outcome FROM core.retry_logs WHERE file_export_id = :e ORDER BY started_at, attempt"
                ),
                {"e": export_id},
            )
        ]


def test_flaky_server_gets_every_export_exactly_once_byte_identical(recordkeeper, warehouse, make_tenant):
    tenant = make_tenant("deliver")
    recordkeeper.drop_every = 2
    payloads = {f"FID_{i}.csv": os.urandom(50_000 + i) for i in range(4)}
    ids = _exports(warehouse, tenant, len(payloads))
    session = lambda: warehouse.tenant(tenant, actor="test")  # noqa: E731
    for export_id, (name, data) in zip(ids, payloads.items(), strict=True):
        result = deliver(session, tenant.id, export_id, _destination(recordkeeper), name, data, base_delay=0.05)
        assert result.outcome == "uploaded"
    remote = sorted(p.name for p in recordkeeper.root.iterdir())
    assert remote == sorted(payloads)
    assert all((recordkeeper.root / n).read_bytes() == d for n, d in payloads.items())
    attempts = [_attempts(warehouse, tenant, e) for e in ids]
    assert all(a[-1][1] == "succeeded" for a in attempts)
    assert any(("failed" in {o for _, o in a}) for a in attempts), "the flaky server did drop connections"
    # Delivering again is a no-op; a different (partial) remote file is replaced.
    name, data = next(iter(payloads.items()))
    assert deliver(session, tenant.id, ids[0], _destination(recordkeeper), name, data).outcome == "skipped"
    (recordkeeper.root / name).write_bytes(data[:1000])
    assert deliver(session, tenant.id, ids[0], _destination(recordkeeper), name, data).outcome == "uploaded"
    assert (recordkeeper.root / name).read_bytes() == data


def test_down_server_opens_the_circuit_then_a_retry_delivers(recordkeeper, warehouse, make_tenant, monkeypatch):
    tenant = make_tenant("circuit")
    [export_id] = _exports(warehouse, tenant, 1)
    session = lambda: warehouse.tenant(tenant, actor="test")  # noqa: E731
    dest = _destination(recordkeeper)
    recordkeeper.stop()
    with pytest.raises(DeliveryFailed, match="5 attempts failed"):
        deliver(session, tenant.id, export_id, dest, "late.csv", b"data", base_delay=0.01)
    with pytest.raises(DeliveryFailed, match="circuit open"):
        deliver(session, tenant.id, export_id, dest, "late.csv", b"data", base_delay=0.01)
    assert [o for _, o in _attempts(warehouse, tenant, export_id)] == ["failed"] * 5 + ["circuit_open"]
    monkeypatch.setattr(delivery_module, "CIRCUIT_COOLDOWN_SECONDS", 0)
    recordkeeper.start()
    assert deliver(session, tenant.id, export_id, dest, "late.csv", b"data").outcome == "uploaded"
    assert (recordkeeper.root / "late.csv").read_bytes() == b"data"


def test_delivery_failure_marks_the_export_failed_and_notifies(recordkeeper, warehouse, keyring, make_tenant):
    from synclinqs_pipelines.landing.zones import LocalObjectStore
    from synclinqs_pipelines.mapping.catalog import get_catalog
    from synclinqs_pipelines.partition import PartitionContext, deliver_export

    catalog = get_catalog()
    tenant = make_tenant("pdeliv")
    outbox = LocalObjectStore(get_settings().outbox)
    uri = outbox.put(f"{tenant.slug}/FID_1.csv", b"H,1\n")
    with warehouse.tenant(tenant, actor="test") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO core.file_exports (organization_id, pay_date, destination_system, file_name,"
                " uri, digest_sha256, size_bytes, record_count, control_total_cents) VALUES (:o,"
                " '2026-01-09', 'fidelity', 'FID_1.csv', :u, 'x', 4, 0, 0)"
            ),
            {"o": tenant.id, "u": uri},
        )
    base = catalog.load_tenants()["acme-manufacturing"]
    os.environ["RK_PASSWORD"] = "rk-secret"
    spec = base.model_copy(update={"slug": tenant.slug, "sftp_outbound": _destination(recordkeeper).spec})
    ctx = PartitionContext(warehouse, keyring, catalog, tenant, spec, dt.date(2026, 1, 9), "test-run")
    assert deliver_export(ctx, outbox).status == "delivered"
    recordkeeper.stop()
    with pytest.raises(DeliveryFailed):
        deliver_export(ctx, outbox)
    with warehouse.tenant(tenant, actor="test") as conn:
        status = conn.execute(sa.text("SELECT status FROM core.file_exports")).scalar_one()
        note = conn.execute(sa.text("SELECT kind, severity FROM core.notifications")).one()
    assert status == "failed" and tuple(note) == ("delivery_failed", "error")


def test_a_host_key_that_does_not_match_the_pin_is_refused(recordkeeper, warehouse, make_tenant):
    tenant = make_tenant("pin")
    [export_id] = _exports(warehouse, tenant, 1)
    wrong = fingerprint(asyncssh.generate_private_key("ssh-ed25519"))
    with pytest.raises(DeliveryFailed, match="host key does not match"):
        deliver(
            lambda: warehouse.tenant(tenant, actor="test"),
            tenant.id,
            export_id,
            _destination(recordkeeper, wrong),
            "x.csv",
            b"data",
        )
    assert _attempts(warehouse, tenant, export_id) == [(1, "failed")]
    assert not (recordkeeper.root / "x.csv").exists()


def test_pgp_encryption_to_the_recordkeeper_key(tmp_path):
    import warnings

    import pysequoia

    from synclinqs_pipelines.sftp.delivery import pgp_encrypt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cert = pysequoia.Cert.generate("Recordkeeper <rk@example.com>")
        public = tmp_path / "rk.asc"
        public.write_text(str(cert))
        encrypted = pgp_encrypt(b"SSN,AMOUNT\n123456789,10.00\n", public)
        assert b"123456789" not in encrypted
        assert (
            pysequoia.decrypt(encrypted, decryptor=cert.secrets.decryptor()).bytes == b"SSN,AMOUNT\n123456789,10.00\n"
        )


def test_confirmations_are_fetched_from_the_recordkeeper_into_the_landing_flow(recordkeeper, tmp_path):
    from synclinqs_pipelines.sftp.delivery import fetch_confirmations

    remote = recordkeeper.root / "confirmations"
    remote.mkdir()
    (remote / "confirm_20260109.csv").write_bytes(b"PLAN NUMBER,SSN\n")
    (remote / ".uploading.csv.part").write_bytes(b"partial")
    dest = _destination(recordkeeper)
    dest = Destination(dest.spec.model_copy(update={"confirmations_dir": "/confirmations"}), None, "rk-secret")
    local = tmp_path / "inbox" / "acme-manufacturing" / "confirmations"
    assert fetch_confirmations(dest, local, set()) == ["confirm_20260109.csv"]
    assert (local / "confirm_20260109.csv").read_bytes() == b"PLAN NUMBER,SSN\n"
    assert fetch_confirmations(dest, local, {"confirm_20260109.csv"}) == []

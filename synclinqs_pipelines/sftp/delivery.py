"""Delivering export files to a recordkeeper's SFTP server: pinned host key, PGP where asked, idempotent,
retried with backoff and jitter, behind a circuit breaker per destination; every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import sqlalchemy as sa

from synclinqs_pipelines.mapping.spec import SftpOutboundSpec

TRANSIENT = (ConnectionError, OSError, asyncio.TimeoutError, asyncssh.DisconnectError, asyncssh.ChannelOpenError)
CIRCUIT_FAILURES = 5
CIRCUIT_COOLDOWN_SECONDS = 300


class DeliveryFailed(RuntimeError):
    """Every attempt failed, or the circuit is open; the message says what to check."""


def fingerprint(key: asyncssh.SSHKey) -> str:
    digest = hashlib.sha256(key.public_data).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _PinnedClient(asyncssh.SSHClient):  # type: ignore[misc]
    """Accepts the server only if its host key has the pinned SHA-256 fingerprint."""

    def __init__(self, pinned: str) -> None:
        self.pinned = pinned.rstrip("=")

    def validate_host_public_key(self, host: str, addr: tuple[str, int], port: int, key: asyncssh.SSHKey) -> bool:
        return fingerprint(key) == self.pinned


def pgp_encrypt(data: bytes, public_key_file: Path) -> bytes:
    import pysequoia

    return bytes(pysequoia.encrypt(data, recipients=[pysequoia.Cert.from_file(str(public_key_file))], armor=False))


@dataclass(frozen=True)
class Destination:
    spec: SftpOutboundSpec
    private_key: str | None
    password: str | None

    @property
    def target(self) -> str:
        return f"sftp://{self.spec.username}@{self.spec.host}:{self.spec.port}{self.spec.remote_dir}"

    @classmethod
    def from_spec(cls, spec: SftpOutboundSpec) -> Destination:
        key = os.environ.get(spec.private_key_env) if spec.private_key_env else None
        password = os.environ.get(spec.password_env) if spec.password_env else None
        return cls(spec, key, password)


async def _connect(dest: Destination, timeout: float) -> Any:
    # An empty known-hosts list (not None, which skips checking) sends every host key to the pinned check.
    kwargs: dict[str, Any] = {
        "username": dest.spec.username,
        "known_hosts": ([], [], []),
        "connect_timeout": timeout,
        "client_factory": lambda: _PinnedClient(dest.spec.host_key_fingerprint),
    }
    if dest.private_key:
        kwargs["client_keys"] = [dest.private_key]
    if dest.password:
        kwargs["password"] = dest.password
    return await asyncssh.connect(dest.spec.host, dest.spec.port, **kwargs)


async def upload_once(dest: Destination, name: str, data: bytes, timeout: float = 15.0) -> str:
    """One attempt. 'skipped' when the remote already holds these exact bytes, 'uploaded' otherwise."""
    remote = f"{dest.spec.remote_dir.rstrip('/')}/{name}"
    async with await _connect(dest, timeout) as conn, conn.start_sftp_client() as sftp:
        if await sftp.exists(remote):
            async with sftp.open(remote, "rb") as fh:
                existing = await fh.read()
            if hashlib.sha256(existing).digest() == hashlib.sha256(data).digest():
                return "skipped"
        # A partial or different remote file is replaced: written under a temporary name, then renamed.
        tmp = f"{dest.spec.remote_dir.rstrip('/')}/.{name}.{uuid.uuid4().hex}.part"
        async with sftp.open(tmp, "wb") as fh:
            await fh.write(data)
        if await sftp.exists(remote):
            await sftp.remove(remote)
        await sftp.rename(tmp, remote)
    return "uploaded"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # uploaded | skipped
    attempts: int
    remote_name: str


def _circuit_open(conn: sa.Connection, tenant_id: uuid.UUID, target: str) -> bool:
    recent = conn.execute(
        sa.text(
            "SELECT outcome, started_at FROM core.retry_logs WHERE organization_id = :o AND target = :t"
            " AND operation = 'sftp_delivery' ORDER BY started_at DESC LIMIT :n"
        ),
        {"o": tenant_id, "t": target, "n": CIRCUIT_FAILURES},
    ).all()
    if len(recent) < CIRCUIT_FAILURES or any(r.outcome not in ("failed", "circuit_open") for r in recent):
        return False
    newest = recent[0].started_at.timestamp()
    return time.time() - newest < CIRCUIT_COOLDOWN_SECONDS


def _log(
    conn: sa.Connection,
    tenant_id: uuid.UUID,
    target: str,
    export_id: uuid.UUID,
    attempt: int,
    outcome: str,
    started: float,
    error: BaseException | None = None,
    delay: float | None = None,
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO core.retry_logs (organization_id, operation, target, file_export_id, attempt, outcome,"
            " error_class, error_message, delay_seconds, started_at, finished_at)"
            " VALUES (:o, 'sftp_delivery', :t, :e, :a, :out, :cls, :msg, :d, to_timestamp(:s), now())"
        ),
        {
            "o": tenant_id,
            "t": target,
            "e": export_id,
            "a": attempt,
            "out": outcome,
            "cls": type(error).__name__ if error else None,
            "msg": str(error)[:300] if error else None,
            "d": delay,
            "s": started,
        },
    )


def deliver(
    session_factory: Any,
    tenant_id: uuid.UUID,
    export_id: uuid.UUID,
    dest: Destination,
    name: str,
    data: bytes,
    *,
    max_attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    rng: random.Random | None = None,
    sleep: Any = time.sleep,
) -> DeliveryResult:
    """Deliver with retries; each attempt is a row in retry_logs (committed as it happens).

    `session_factory()` gives a tenant-scoped transaction context. Transient errors (refused connection,
    timeout, disconnect) are retried with exponential backoff and full jitter; a host key mismatch is never
    retried. An open circuit (too many recent failures to this destination) refuses at once.
    """
    rng = rng or random.Random()
    with session_factory() as conn:
        circuit_open = _circuit_open(conn, tenant_id, dest.target)
        if circuit_open:
            _log(conn, tenant_id, dest.target, export_id, 1, "circuit_open", time.time())
    if circuit_open:
        raise DeliveryFailed(
            f"circuit open for {dest.target}: {CIRCUIT_FAILURES} recent failures; "
            f"retry after {CIRCUIT_COOLDOWN_SECONDS // 60} minutes or when the server is back"
        )

    def record(
        attempt: int, outcome: str, started: float, error: BaseException | None = None, delay: float | None = None
    ) -> None:
        with session_factory() as conn:
            _log(conn, tenant_id, dest.target, export_id, attempt, outcome, started, error, delay)

    for attempt in range(1, max_attempts + 1):
        started = time.time()
        try:
            outcome = asyncio.run(upload_once(dest, name, data))
        except asyncssh.HostKeyNotVerifiable as exc:
            record(attempt, "failed", started, exc)
            raise DeliveryFailed(
                f"{dest.target}: the server's host key does not match the pinned fingerprint "
                "in the tenant file; not delivered and not retried"
            ) from None
        except TRANSIENT as exc:
            last = attempt == max_attempts
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * rng.random()
            record(attempt, "failed", started, exc, None if last else delay)
            if last:
                raise DeliveryFailed(
                    f"{dest.target}: {max_attempts} attempts failed, the last with {type(exc).__name__}"
                ) from None
            sleep(delay)
            continue
        record(attempt, "skipped" if outcome == "skipped" else "succeeded", started)
        return DeliveryResult(outcome, attempt, name)
    raise AssertionError("unreachable")  # pragma: no cover


async def _fetch(dest: Destination, remote_dir: str, local_dir: Path, seen: set[str]) -> list[str]:
    fetched = []
    async with await _connect(dest, 15.0) as conn, conn.start_sftp_client() as sftp:
        for name in sorted(await sftp.listdir(remote_dir)):
            if name.startswith(".") or name in seen or name.endswith((".part", ".tmp")):
                continue
            async with sftp.open(f"{remote_dir.rstrip('/')}/{name}", "rb") as fh:
                data = await fh.read()
            local_dir.mkdir(parents=True, exist_ok=True)
            tmp = local_dir / f".{name}.part"
            tmp.write_bytes(data)
            tmp.replace(local_dir / name)
            fetched.append(name)
    return fetched


def fetch_confirmations(dest: Destination, local_dir: Path, seen: set[str]) -> list[str]:
    """Copy new files from the recordkeeper's confirmations folder into the tenant's local inbox, where
    the confirmation sensor takes them in (digest dedupe and quarantine included)."""
    remote_dir = dest.spec.confirmations_dir
    if not remote_dir:
        return []
    return asyncio.run(_fetch(dest, remote_dir, local_dir, seen))

"""Envelope encryption: what decrypts, what must not, and nonce freshness."""

from __future__ import annotations

import os
import stat
import struct
import uuid

import pytest

from synclinqs_pipelines.security.envelope import DecryptionError, TenantCipher, key_version_of
from synclinqs_pipelines.security.key_providers import KeyProviderError, LocalKeyFileProvider

TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()


def cipher(tenant=TENANT_A, versions=(1,), active=1, seed=b"k") -> TenantCipher:
    keys = {v: (seed + bytes([v])) * 16 for v in versions}
    return TenantCipher(
        tenant_id=tenant, data_keys={v: k[:32] for v, k in keys.items()}, active_version=active, index_key=b"i" * 32
    )


def test_round_trip_and_key_version_in_the_header():
    c = cipher()
    blob = c.encrypt("core.employees", "ssn_encrypted", "123-45-6789")
    assert key_version_of(blob) == 1
    assert b"123-45-6789" not in blob
    assert c.decrypt("core.employees", "ssn_encrypted", blob) == "123-45-6789"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda c, b: (c, "core.employees", "ssn_encrypted", b[:-1] + bytes([b[-1] ^ 1])), id="flipped-bit"
        ),
        pytest.param(lambda c, b: (cipher(tenant=TENANT_B), "core.employees", "ssn_encrypted", b), id="other-tenant"),
        pytest.param(lambda c, b: (c, "core.users", "ssn_encrypted", b), id="other-table"),
        pytest.param(lambda c, b: (c, "core.employees", "last_name_encrypted", b), id="other-column"),
    ],
)
def test_tampered_or_moved_ciphertext_does_not_decrypt(tamper):
    c = cipher()
    blob = c.encrypt("core.employees", "ssn_encrypted", "123-45-6789")
    other, table, column, data = tamper(c, blob)
    with pytest.raises(DecryptionError) as exc:
        other.decrypt(table, column, data)
    assert "123-45-6789" not in str(exc.value)


def test_wrong_key_version_does_not_decrypt():
    c = cipher(versions=(1, 2), active=1)
    blob = c.encrypt("core.employees", "ssn_encrypted", "123-45-6789")
    relabelled = struct.pack(">BI", 1, 2) + blob[5:]
    with pytest.raises(DecryptionError):
        c.decrypt("core.employees", "ssn_encrypted", relabelled)
    with pytest.raises(DecryptionError, match="unknown"):
        cipher(versions=(1,)).decrypt("core.employees", "ssn_encrypted", struct.pack(">BI", 1, 7) + blob[5:])


def test_after_rotation_old_values_still_decrypt_and_new_ones_use_the_new_version():
    old = cipher(versions=(1,), active=1)
    blob_v1 = old.encrypt("core.employees", "ssn_encrypted", "123-45-6789")
    rotated = cipher(versions=(1, 2), active=2)
    blob_v2 = rotated.encrypt("core.employees", "ssn_encrypted", "123-45-6789")
    assert (key_version_of(blob_v1), key_version_of(blob_v2)) == (1, 2)
    assert rotated.decrypt("core.employees", "ssn_encrypted", blob_v1) == "123-45-6789"
    assert rotated.decrypt("core.employees", "ssn_encrypted", blob_v2) == "123-45-6789"


def test_no_two_encryptions_reuse_a_nonce():
    c = cipher()
    blobs = c.encrypt_many("core.employees", "ssn_encrypted", ["123-45-6789"] * 50_000)
    blobs += [c.encrypt("core.employees", "ssn_encrypted", "123-45-6789") for _ in range(1_000)]
    nonces = {b[5:17] for b in blobs}
    assert len(nonces) == len(blobs) == 51_000


def test_blind_index_is_stable_per_tenant_and_ignores_dashes():
    a, b = cipher(), TenantCipher(TENANT_B, {1: b"k" * 32}, 1, b"j" * 32)
    assert a.blind_index("123-45-6789") == a.blind_index("123456789")
    assert a.blind_index("123456789") != b.blind_index("123456789")
    assert a.blind_index("123456789") != a.blind_index("123456780")


def test_repr_shows_no_key_material():
    assert "kkkk" not in repr(cipher()) and "versions=[1]" in repr(cipher())


def test_local_key_file_is_created_private_and_refused_when_readable_by_others(tmp_path):
    path = tmp_path / "keys" / "kek.key"
    provider = LocalKeyFileProvider(path)
    wrapped = provider.wrap(b"d" * 32, {"tenant": "t", "purpose": "data", "version": "1"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert provider.unwrap(wrapped, {"tenant": "t", "purpose": "data", "version": "1"}) == b"d" * 32
    with pytest.raises(KeyProviderError, match="does not unwrap"):
        provider.unwrap(wrapped, {"tenant": "other", "purpose": "data", "version": "1"})
    os.chmod(path, 0o644)
    with pytest.raises(KeyProviderError, match="chmod 600"):
        LocalKeyFileProvider(path).wrap(b"d" * 32, {})


def test_batch_digests_equal_one_at_a_time_hmacs():
    import hashlib
    import hmac

    c = cipher()
    ssns = ["123456789", "987654321", "123456789"]
    assert c.blind_index_many(ssns) == [c.blind_index(s) for s in ssns]
    assert c.blind_index_many(ssns)[0] == hmac.new(c.index_key, b"123456789", hashlib.sha256).digest()
    rows = [("123456789", "Ann", None), ("123456789", "Ann", "")]
    joined = ["\x1f".join("" if p is None else p for p in r) for r in rows]
    expected = [hmac.new(c.index_key, b"pii\x1f" + j.encode(), hashlib.sha256).digest() for j in joined]
    assert c.keyed_digest_many(joined) == expected == [c.keyed_digest(r) for r in rows]
    assert expected[0] != c.keyed_digest(("123456789", "Ann", "x"))

"""Client-made UUIDv7 keys for the bulk fact tables."""

from __future__ import annotations

import uuid

import pytest

from synclinqs_pipelines.warehouse.ids import MAX_BATCH, uuid7_series

MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z


def test_keys_are_version_7_with_the_timestamp_and_increase_within_the_batch():
    keys = [uuid.UUID(k) for k in uuid7_series(70_000, now_ms=MS).to_list()]
    assert {k.version for k in keys} == {7}
    assert {k.variant for k in keys} == {uuid.RFC_4122}
    assert {k.int >> 80 for k in keys} == {MS}
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    # The sequence spans both of its fields: past 2**14 rows the rand_a bits carry.
    assert (keys[16_384].int >> 64) & 0x0FFF == 1


def test_two_batches_of_the_same_millisecond_do_not_collide():
    first = set(uuid7_series(50_000, now_ms=MS).to_list())
    second = set(uuid7_series(50_000, now_ms=MS).to_list())
    assert not first & second


def test_empty_and_oversized_batches():
    assert uuid7_series(0).len() == 0
    with pytest.raises(ValueError, match="at most"):
        uuid7_series(MAX_BATCH)

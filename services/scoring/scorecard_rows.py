"""The scorecard rows' sums, kept as rows of the deal table beside the deals.

A scorecard row is one (quarter, team, actor) (services/domain/scorecard.py). Each deal-events
partition keeps its own sums of each row: a batch adds what its deals' parts changed by to
the rows of their partition, and saves those rows with the deals, in the same partition's
transaction, changelog, RocksDB store, standby replica and recovery. So a partition's rows
always match its deals, whichever worker owns it, after any crash, fence or rebalance; review
adds a row's partition sums together. docs/decisions.md, "Scorecard sums in the deal table",
says why this and not a second table fed by a repartition topic.

A row's table key starts with a NUL byte (never a deal id: ingest refuses control characters)
and ends with a salt chosen so Kafka's partitioner puts the key in the row's partition.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping

import orjson

from services.domain.scorecard import Counts

from .changelog import partition_for

ROW_PREFIX = b"\x00scorecard\x00"

# (deal-events partition, row id) -> the row's summed counts in that partition
ScorecardRows = dict[tuple[int, str], Counts]


@functools.lru_cache(maxsize=65_536)
def row_key(partition: int, rid: str, partitions: int) -> bytes:
    """The deal-table key of ``partition``'s sums of row ``rid`` (it lands in that partition)."""
    base = ROW_PREFIX + rid.encode() + b"\x00"
    for salt in itertools.count():
        key = base + str(salt).encode()
        if partition_for(key, partitions) == partition:
            return key
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


def is_row_key(key: bytes) -> bool:
    return key.startswith(ROW_PREFIX)


def row_of(key: bytes, partitions: int) -> tuple[int, str]:
    """(partition, row id) of a row key."""
    return partition_for(key, partitions), key[len(ROW_PREFIX) : key.rindex(b"\x00")].decode()


def encode_counts(counts: Mapping[str, int]) -> bytes:
    return orjson.dumps(counts)


def decode_counts(raw: bytes | None) -> Counts:
    return dict(orjson.loads(raw)) if raw else {}


def split_table(items: Iterable[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """The deal table's (key, value) pairs as (deals, scorecard rows)."""
    deals: list[tuple[bytes, bytes]] = []
    rows: list[tuple[bytes, bytes]] = []
    for key, value in items:
        (rows if is_row_key(key) else deals).append((key, value))
    return deals, rows

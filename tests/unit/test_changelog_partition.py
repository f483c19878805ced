"""The bulk changelog writes each deal to the partition its events live on."""

import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from services.scoring.changelog import partition_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("partitions", [1, 6, 12])
def test_partition_matches_the_one_ingest_produces_the_event_to(partitions):
    # Ingest's kafka-python producer picks murmur2(key) & 0x7fffffff mod n for a keyed record.
    for key in [b"salesforce:006A", b"hubspot:123", b"api:demo-1", "pipedrive:\u00e9t\u00e9".encode(), b""]:
        expected = (kafka_python_murmur2(key) & 0x7FFFFFFF) % partitions
        assert partition_for(key, partitions) == expected


def test_known_value_from_the_java_client():
    # murmur2("21") = -973932308 in the Java client's Utils.murmur2 test vectors.
    assert partition_for(b"21", 1 << 31) == -973932308 & 0x7FFFFFFF

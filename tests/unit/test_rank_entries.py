"""rank_entries builds each filtered key from the unfiltered key and a suffix per filter; it must
give what building every key with RedisKeys gives, in the same order (the card stores the dict)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.lists import Placement
from services.scoring.read_model import rank_entries
from services.shared.keys import FILTER_FIELDS, RedisKeys

pytestmark = pytest.mark.unit


def reference_rank_entries(keys: RedisKeys, placement: Placement, partitions: int | None) -> dict[str, float]:
    """rank_entries as it was: every key built by RedisKeys."""
    from services.scoring.changelog import partition_for

    entries: dict[str, float] = {}
    if placement.stall_due is not None and partitions:
        entries[keys.stall_due(partition_for(placement.card["deal_id"].encode(), partitions))] = placement.stall_due
    for quarter, parts in placement.flows.items():
        entries[keys.flow(quarter, "seen")] = 0.0
        for dim, value in placement.filters.items():
            entries[keys.flow(quarter, "seen", dim, value)] = 0.0
        for bucket, amount in parts.items():
            entries[keys.flow(quarter, bucket)] = amount
            for dim, value in placement.filters.items():
                entries[keys.flow(quarter, bucket, dim, value)] = amount
    if placement.stalled_score is not None:
        entries[keys.stalled_rank()] = placement.stalled_score
        for dim, value in placement.filters.items():
            entries[keys.stalled_rank(dim, value)] = placement.stalled_score
    if placement.leader_score is not None:
        entries[keys.leader_rank()] = placement.leader_score
        for dim, value in placement.filters.items():
            entries[keys.leader_rank(dim, value)] = placement.leader_score
    if placement.manager_quarter is not None:
        entries[keys.manager_rank(placement.manager_quarter)] = placement.amount
        for dim, value in placement.filters.items():
            entries[keys.manager_rank(placement.manager_quarter, dim, value)] = placement.amount
    return entries


score = st.none() | st.floats(0, 1e9, allow_nan=False)
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
buckets = st.dictionaries(st.sampled_from(["start", "new", "pushed_out", "won", "end"]), st.floats(0, 1e6), max_size=4)
placements = st.builds(
    Placement,
    card=st.builds(lambda deal_id: {"deal_id": deal_id}, text),
    leader_score=score,
    manager_quarter=st.none() | st.sampled_from(["2026Q3", "2026Q4"]),
    amount=st.floats(0, 1e9, allow_nan=False),
    filters=st.dictionaries(st.sampled_from(sorted(FILTER_FIELDS)), text),
    stall_due=score,
    stalled_score=score,
    flows=st.dictionaries(st.sampled_from(["2026Q3", "2026Q4"]), buckets, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(placements, st.none() | st.integers(1, 12), st.sampled_from(["pr", "{pr}", "t:x"]))
def test_rank_entries_are_the_keys_redis_keys_builds_in_the_same_order(placement, partitions, prefix):
    keys = RedisKeys(prefix)
    got = rank_entries(keys, placement, partitions)
    want = reference_rank_entries(keys, placement, partitions)
    assert list(got.items()) == list(want.items())


def test_a_filter_suffix_is_what_a_filter_adds_and_refuses_an_unknown_dimension():
    keys = RedisKeys("pr")
    for dim in FILTER_FIELDS:
        assert keys.leader_rank(dim, "v") == keys.leader_rank() + keys.filter_suffix(dim, "v")
        assert keys.flow("2026Q4", "end", dim, "v") == keys.flow("2026Q4", "end") + keys.filter_suffix(dim, "v")
    with pytest.raises(ValueError, match="unknown filter dimension"):
        keys.filter_suffix("region", "v")
    assert rank_entries(keys, None) == {}

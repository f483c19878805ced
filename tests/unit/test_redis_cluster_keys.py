"""Redis Cluster: every key of the layout in one slot, and the settings that make no sense refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from services.shared.keys import RedisKeys, has_hash_tag, hash_tagged
from services.shared.redis_client import redis_client
from services.shared.settings import CommonSettings

pytestmark = pytest.mark.unit


def every_key(keys: RedisKeys) -> list[str]:
    return [
        keys.deal("salesforce:006SM0000001Tb3YAE"),
        keys.deal("{odd}}id{"),
        keys.leader_rank(),
        keys.leader_rank("team", "East"),
        keys.manager_rank("2026Q4"),
        keys.manager_rank("2026Q4", "owner", "u{1}"),
        keys.deleted_deals(),
        keys.alerts_stream(),
        keys.alert_positions(),
        keys.alert_acks(),
        keys.stream_token("ab" * 32),
        keys.scoring_synced(),
        keys.alert_feed_synced(),
        f"{keys.prefix}:tmp:manager:2026Q4+2027Q1:team:East",
        keys.webhook_subscriptions(),
        keys.webhook_jobs(),
        keys.webhook_due(),
        keys.webhook_inflight(),
        keys.webhook_stats("s1"),
        keys.webhook_dead_letters("s1"),
    ]


@given(st.text(alphabet="ab{}:-_1", min_size=1, max_size=12))
def test_every_key_under_a_hash_tagged_prefix_maps_to_one_slot(prefix):
    try:
        tagged = hash_tagged(prefix)
    except ValueError:
        assert prefix.startswith("}")  # the only prefixes that cannot be wrapped into a tag
        return
    assert has_hash_tag(tagged)
    assert len({key_slot(k.encode()) for k in every_key(RedisKeys(tagged))}) == 1


def test_a_plain_prefix_is_wrapped_and_a_tagged_one_kept():
    assert hash_tagged("pr") == "{pr}"
    assert hash_tagged("app{pr}") == "app{pr}"
    # "{}" is no tag: Redis would hash the whole key, so the prefix is wrapped once more.
    assert hash_tagged("a{}b") == "{a{}b}"
    for hopeless in ("", "}pr"):
        with pytest.raises(ValueError, match="hash tag"):
            hash_tagged(hopeless)


def test_cluster_mode_tags_the_keys_and_plain_mode_keeps_the_old_layout():
    assert CommonSettings(redis_prefix="pr").keys.deal("x") == "pr:deal:x"
    assert CommonSettings(redis_prefix="pr", redis_cluster=True).keys.deal("x") == "{pr}:deal:x"


def test_cluster_mode_refuses_a_unix_socket_another_database_or_no_prefix():
    with pytest.raises(ValidationError, match="unix socket"):
        CommonSettings(redis_cluster=True, redis_url="unix:///run/redis.sock")
    with pytest.raises(ValidationError, match="database 0") as refused:
        CommonSettings(redis_cluster=True, redis_url="redis://user:s3cret@10.0.0.1:6379/3")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ValidationError, match="PR_REDIS_PREFIX"):
        CommonSettings(redis_cluster=True, redis_prefix="")
    assert CommonSettings(redis_cluster=True, redis_url="rediss://node-0.redis:6379").redis_cluster


def test_cluster_mode_opens_a_cluster_client_with_the_same_bounded_timeouts():
    client = redis_client(CommonSettings(redis_cluster=True, redis_url="redis://127.0.0.1:7000/0", redis_timeout=3))
    assert isinstance(client, RedisCluster)
    options = client.connection_kwargs
    assert options["socket_timeout"] == 3 and options["socket_connect_timeout"] == 3

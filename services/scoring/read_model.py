"""Writes deal placements into the Redis read model (the only place scoring touches Redis)."""

from __future__ import annotations

import orjson

from services.domain.lists import Placement
from services.domain.scorecard import parse_row_id
from services.shared.keys import RedisKeys

from .changelog import partition_for
from .scorecard_rows import ScorecardRows


def rank_entries(keys: RedisKeys, placement: Placement | None, partitions: int | None = None) -> dict[str, float]:
    """Every sorted set the deal belongs in, with its score there.

    ``partitions`` (of deal-events) places a deal whose stalled alert is to come in its
    partition's due-time index; without it that index is left alone."""
    if placement is None:
        return {}
    entries: dict[str, float] = {}
    if placement.stall_due is not None and partitions:
        deal_id = placement.card["deal_id"]
        entries[keys.stall_due(partition_for(deal_id.encode(), partitions))] = placement.stall_due
    # A filtered set's key is its unfiltered key and a suffix per filter: the suffixes are built once
    # per deal, not once per set (with the flows a deal sits in about 30 sets).
    suffixes = [keys.filter_suffix(dim, value) for dim, value in placement.filters.items()]
    scored: list[tuple[str, float]] = []
    for quarter, parts in placement.flows.items():
        scored.append((keys.flow(quarter, "seen"), 0.0))
        scored.extend((keys.flow(quarter, bucket), amount) for bucket, amount in parts.items())
    if placement.stalled_score is not None:
        scored.append((keys.stalled_rank(), placement.stalled_score))
    if placement.leader_score is not None:
        scored.append((keys.leader_rank(), placement.leader_score))
    if placement.manager_quarter is not None:
        scored.append((keys.manager_rank(placement.manager_quarter), placement.amount))
    for base, score in scored:
        entries[base] = score
        for suffix in suffixes:
            entries[base + suffix] = score
    return entries


RANKS_FIELD = "_ranks"


# One batch's whole read-model write, atomic like a MULTI: ARGV[1] is a JSON object of the
# sorted-set changes ({"zrem": [[key, [member...]]...], "zadd": [[key, [score, member, ...]]...]},
# scores as strings so Redis parses them exactly as redis-py would) and the scorecard rows' hashes
# ({"hdel": [[key, [field...]]...], "hset": [[key, [field, value, ...]]...]}), then card key, card
# value pairs. One command per batch instead of one per sorted set: with the per-filter and per-quarter
# sets a batch of 500 events touched about 2,000 of them, and redis-py's packing and reply
# parsing of those commands was the larger half of the fold's own cost (docs/benchmarks.md).
# Every key shares the prefix's hash tag on a cluster, so the declared key routes the script.
WRITE_BATCH = """
local ops = cjson.decode(ARGV[1])
-- One command per key, its arguments in chunks (unpack has a stack limit); width: arguments per member.
local function each(command, entries, width)
  local step = 500 * width
  for _, op in ipairs(entries) do
    local args = op[2]
    for i = 1, #args, step do
      redis.call(command, op[1], unpack(args, i, math.min(i + step - 1, #args)))
    end
  end
end
each('ZREM', ops.zrem, 1)
each('ZADD', ops.zadd, 2)
each('HDEL', ops.hdel, 1)
each('HSET', ops.hset, 2)
for i = 2, #ARGV, 2 do
  redis.call('SET', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""


async def write_placements(
    redis,
    keys: RedisKeys,
    placements: dict[str, Placement],
    trust_stored_ranks: bool = True,
    partitions: int | None = None,
    rows: ScorecardRows | None = None,
) -> None:
    """Bring the read model up to date for these deals and scorecard ``rows`` (their new sums):
    one MGET and one script per batch.

    The script applies every change atomically (one ZREM / ZADD per sorted set, one HDEL /
    HSET per scorecard hash, one SET per card): the same end state as per-deal commands in a
    MULTI, in one round trip and one command to pack. A row that sums to nothing is removed.

    A stored card's ``_ranks`` spares the ZADDs of entries that did not change. A repair passes
    ``trust_stored_ranks=False``: after a wipe, a card can say a deal is ranked while its sorted-set
    entry is gone (the wipe fell between this MGET and the script, or a batch was written before the
    wipe was noticed), so every entry is added again.

    ``partitions``: deal-events' partition count, for the stall due-time index (see rank_entries).
    """
    scorecard_set: dict[str, list[str]] = {}  # quarter hash -> [field, counts JSON, ...]
    scorecard_del: dict[str, list[str]] = {}
    dumps = orjson.dumps
    for (partition, rid), counts in (rows or {}).items():
        quarter, team, actor = parse_row_id(rid)
        hash_key, row_field = keys.scorecards(quarter), dumps([partition, team, actor]).decode()
        if counts:
            scorecard_set.setdefault(hash_key, []).extend((row_field, dumps(counts).decode()))
        else:
            scorecard_del.setdefault(hash_key, []).append(row_field)
    if not placements and not scorecard_set and not scorecard_del:
        return
    deal_ids = list(placements)
    old_cards = await redis.mget([keys.deal(d) for d in deal_ids]) if deal_ids else []
    removals: dict[str, list[str]] = {}
    additions: dict[str, list[str]] = {}
    cards: list[bytes | str] = []
    deleted: list[str] = []
    for deal_id, raw in zip(deal_ids, old_cards):
        after = placements[deal_id]
        old_card = orjson.loads(raw) if raw else {}
        old = old_card.get(RANKS_FIELD, {})
        new = rank_entries(keys, after, partitions)
        for key in old.keys() - new.keys():
            removals.setdefault(key, []).append(deal_id)
        for key, score in new.items():
            if not trust_stored_ranks or old.get(key) != score:
                additions.setdefault(key, []).extend((repr(score), deal_id))
        card = dict(after.card)
        card[RANKS_FIELD] = new
        cards.append(keys.deal(deal_id))
        cards.append(dumps(card))
        if after.deleted_at is not None:
            # Due-times of the deleted cards, for sweep_deleted (no scan of every deal). A
            # deal undeleted later keeps its entry until then; the sweep checks the card.
            deleted.extend((repr(after.deleted_at), deal_id))
    if deleted:
        additions.setdefault(keys.deleted_deals(), []).extend(deleted)
    ops = dumps(
        {
            "zrem": list(removals.items()),
            "zadd": list(additions.items()),
            "hdel": list(scorecard_del.items()),
            "hset": list(scorecard_set.items()),
        }
    )
    script = redis.register_script(WRITE_BATCH)
    # Any key of the batch routes the script (they share the prefix's hash tag).
    routing = keys.deal(deal_ids[0]) if deal_ids else next(iter(scorecard_set or scorecard_del))
    await script(keys=[routing], args=[ops, *cards])


# Atomic, so a deal that an event reopens between the worker's writes is never removed: the
# card is deleted only while it still says "deleted". Card and rank keys are derived from the
# due entries (not declared in KEYS): fine on a single Redis, as the read model needs.
SWEEP_DELETED = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, deal in ipairs(due) do
  local card_key = ARGV[3] .. deal
  local raw = redis.call('GET', card_key)
  if raw then
    local ok, card = pcall(cjson.decode, raw)
    if ok and type(card) == 'table' and card.status == 'deleted' then
      if type(card._ranks) == 'table' then
        for rank, _ in pairs(card._ranks) do redis.call('ZREM', rank, deal) end
      end
      redis.call('DEL', card_key)
      removed = removed + 1
    end
  end
  redis.call('ZREM', KEYS[1], deal)
end
return {#due, removed}
"""
SWEEP_BATCH = 500


async def sweep_deleted(redis, keys: RedisKeys, cutoff: float, batch: int = SWEEP_BATCH) -> int:
    """Remove the cards (and any rank entry) of deals deleted at or before ``cutoff`` (epoch s).

    Reads only the due entries of the deleted-deals sorted set, a batch per call of the
    script; returns how many cards went.
    """
    script = redis.register_script(SWEEP_DELETED)
    removed = 0
    while True:
        seen, gone = await script(keys=[keys.deleted_deals()], args=[repr(cutoff), batch, keys.deal("")])
        removed += int(gone)
        if int(seen) < batch:
            return removed

"""Writes deal placements into the Redis read model (the only place scoring touches Redis)."""

from __future__ import annotations

import orjson

from services.domain.lists import Placement
from services.shared.keys import RedisKeys
from services.shared.redis_client import set_many

from .changelog import partition_for


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


RANKS_FIELD = "_ranks"


def ranks_in_card(raw_card: bytes | str | None) -> dict[str, float]:
    """The rank entries a stored card says the deal is in (Redis is its own source of truth)."""
    if not raw_card:
        return {}
    return orjson.loads(raw_card).get(RANKS_FIELD, {})


async def write_placements(redis, keys: RedisKeys, placements: dict[str, Placement],
                           trust_stored_ranks: bool = True, partitions: int | None = None) -> None:
    """Bring the read model up to date for these deals: one MGET and one MULTI per batch.

    Inside the MULTI the commands are grouped (one ZREM / ZADD per sorted set, one MSET for
    all cards): the same end state as per-deal commands, with far fewer commands to send
    and replies to parse.

    A stored card's ``_ranks`` spares the ZADDs of entries that did not change. A repair passes
    ``trust_stored_ranks=False``: after a wipe, a card can say a deal is ranked while its sorted-set
    entry is gone (the wipe fell between this MGET and the MULTI, or a batch was written before the
    wipe was noticed), so every entry is added again.

    ``partitions``: deal-events' partition count, for the stall due-time index (see rank_entries).
    """
    if not placements:
        return
    deal_ids = list(placements)
    old_cards = await redis.mget([keys.deal(d) for d in deal_ids])
    removals: dict[str, list[str]] = {}
    additions: dict[str, dict[str, float]] = {}
    cards: dict[str, bytes] = {}
    deleted: dict[str, float] = {}
    dumps = orjson.dumps
    for deal_id, raw in zip(deal_ids, old_cards):
        after = placements[deal_id]
        old = ranks_in_card(raw)
        new = rank_entries(keys, after, partitions)
        for key in old.keys() - new.keys():
            removals.setdefault(key, []).append(deal_id)
        for key, score in new.items():
            if not trust_stored_ranks or old.get(key) != score:
                additions.setdefault(key, {})[deal_id] = score
        card = dict(after.card)
        card[RANKS_FIELD] = new
        cards[keys.deal(deal_id)] = dumps(card)
        if after.deleted_at is not None:
            deleted[deal_id] = after.deleted_at
    async with redis.pipeline(transaction=True) as pipe:
        for key, members in removals.items():
            pipe.zrem(key, *members)
        for key, mapping in additions.items():
            pipe.zadd(key, mapping)
        set_many(pipe, cards)
        if deleted:
            # Due-times of the deleted cards, for sweep_deleted (no scan of every deal). A
            # deal undeleted later keeps its entry until then; the sweep checks the card.
            pipe.zadd(keys.deleted_deals(), deleted)
        await pipe.execute()


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

"""A deterministic, realistic stream of deal events, and the read model it must produce."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random

import redis.asyncio as aioredis

from services.domain.alerts import discount_alert
from services.domain.lists import place
from services.domain.movement import movement_alerts
from services.domain.state import apply_event
from services.scoring.read_model import write_placements
from services.scoring.rebuild import scorecard_rows
from services.shared.events import DealEvent
from services.shared.keys import RedisKeys
from services.shared.stages import StageMap

STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
]


def deal_stream(n_deals: int, seed: int = 7, today: dt.date | None = None) -> list[DealEvent]:
    """Created, stage moves, amount changes, discounts and closes, interleaved across deals."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    # Recent enough that no deal stalls while a test runs (the shortest stall limit is 14 days),
    # old enough that every event lies in the past (about 3.2 days of events).
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=4)
    events: list[DealEvent] = []
    for d in range(n_deals):
        deal_id = f"api:w{seed}-{d:05}"
        at = t0 + dt.timedelta(minutes=rng.randint(0, 1000))
        stage = rng.randrange(3)
        changes = {
            "name": f"Deal {d}",
            "account": f"Acct {d % 40}",
            "owner_id": f"u{d % 9}",
            "team": ["East", "West", "Central"][d % 3],
            "manager_id": f"m{d % 3}",
            "stage": STAGES[stage],
            "amount": rng.randrange(1, 200) * 1000,
            "close_date": (today + dt.timedelta(days=rng.randint(-20, 200))).isoformat(),
            "qualification": {
                "economic_buyer": rng.choice(["known", "unknown"]),
                "champion": rng.choice(["known", "unknown"]),
            },
        }
        steps = [("deal.created", changes)]
        for _ in range(rng.randint(0, 6)):
            roll = rng.random()
            if roll < 0.4 and stage < len(STAGES) - 1:
                stage += 1
                steps.append(("deal.stage_changed", {"stage": STAGES[stage]}))
            elif roll < 0.6:
                steps.append(("deal.updated", {"amount": rng.randrange(1, 200) * 1000}))
            elif roll < 0.75:
                steps.append(
                    (
                        "deal.discount_requested",
                        {"discount_pct": rng.choice([5, 10, 15, 25]), "requested_by": f"u{d % 9}"},
                    )
                )
            elif roll < 0.8:
                steps.append(("deal.closed_won", {"stage": "Closed Won"}))
                break
            else:
                steps.append(("deal.updated", {"qualification": {"pain": "known"}}))
        for i, (kind, ch) in enumerate(steps):
            at += dt.timedelta(minutes=rng.randint(1, 600))
            events.append(
                DealEvent.model_validate(
                    {
                        "event_id": f"{deal_id}-{i}",
                        "source": "api",
                        "deal_id": deal_id,
                        "occurred_at": at.isoformat(),
                        "type": kind,
                        "changes": ch,
                    }
                )
            )
    # Interleave deals but keep each deal's own order (as one Kafka partition would).
    rng.shuffle(events)
    events.sort(key=lambda e: (e.deal_id, e.occurred_at))
    buckets: dict[str, list[DealEvent]] = {}
    for e in events:
        buckets.setdefault(e.deal_id, []).append(e)
    out: list[DealEvent] = []
    while buckets:
        for deal_id in list(buckets):
            if rng.random() < 0.5:
                out.append(buckets[deal_id].pop(0))
                if not buckets[deal_id]:
                    del buckets[deal_id]
    return out


def manager_actions(events: list[DealEvent], seed: int = 7) -> list[DealEvent]:
    """Reviews, help and discount decisions by three actors on about half the deals of a stream,
    each after the deal's own events (the order review's events take on the deal's partition)."""
    from services.domain.alerts import alert_id_for

    rng = random.Random(seed)
    last: dict[str, DealEvent] = {}
    requests: dict[str, list[DealEvent]] = {}
    for e in events:
        last[e.deal_id] = e
        if e.type.value == "deal.discount_requested":
            requests.setdefault(e.deal_id, []).append(e)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out: list[DealEvent] = []
    for deal_id in sorted(last):
        if rng.random() < 0.5:
            continue
        at = last[deal_id].occurred_at
        actor = rng.choice(["ana", "bob", "cy"])
        steps = [("deal.reviewed", {"questions": ["Who signs?"]})]
        if rng.random() < 0.5:
            steps.append(("deal.help_offered", {"kind": rng.choice(["access", "qualification", "acceleration"])}))
        for request in requests.get(deal_id, [])[:1]:
            decision = rng.choice(["approved", "rejected", "countered"])
            pct = request.changes.discount_pct
            granted = {"approved": pct, "countered": pct / 2, "rejected": None}[decision]
            steps.append(
                (
                    "deal.discount_decided",
                    {"alert_id": alert_id_for(deal_id, request.event_id), "decision": decision, "requested_pct": pct}
                    | ({"discount_pct": granted} if granted is not None else {}),
                )
            )
        for i, (kind, fields) in enumerate(steps):
            at = min(at + dt.timedelta(minutes=rng.randint(1, 120)), now)
            out.append(
                DealEvent.model_validate(
                    {
                        "event_id": f"{deal_id}-act{i}",
                        "source": "review",
                        "deal_id": deal_id,
                        "occurred_at": at.isoformat(),
                        "type": kind,
                        "action": {"by": actor, **fields},
                    }
                )
            )
    return out


def expected_alerts(events: list[DealEvent], stage_map: StageMap) -> set[str]:
    """The alert ids (every kind) the stream must raise, once each."""
    states: dict = {}
    ids = set()
    for e in events:
        applied = apply_event(states.get(e.deal_id), e, stage_map)
        states[e.deal_id] = applied.state
        if not applied.duplicate:
            alert = discount_alert(e, applied.state, stage_map)
            if alert:
                ids.add(alert.alert_id)
            ids.update(a["alert_id"] for a in movement_alerts(e, applied.state, stage_map))
    return ids


async def write_expected(
    redis_url: str, keys: RedisKeys, events: list[DealEvent], stage_map: StageMap, partitions: int | None = None
) -> None:
    """The read model the pure fold gives, written under ``keys`` (``partitions``: of deal-events,
    for the stall due-time index the worker keeps)."""
    states: dict = {}
    for e in events:
        states[e.deal_id] = apply_event(states.get(e.deal_id), e, stage_map).state
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await write_placements(
            redis,
            keys,
            {d: place(s, stage_map) for d, s in states.items()},
            partitions=partitions,
            rows=scorecard_rows(states, stage_map, partitions or 1),
        )
    finally:
        await redis.aclose()


async def snapshot(redis_url: str, keys: RedisKeys) -> dict:
    """Every deal card and ranking under a prefix, with the prefix removed."""
    redis = aioredis.Redis.from_url(redis_url)
    out: dict = {}
    try:
        async for key in redis.scan_iter(f"{keys.prefix}:*", count=1000):
            name = key.decode()[len(keys.prefix) :]
            kind = await redis.type(key)
            if kind == b"zset":
                out[name] = {m.decode(): s for m, s in await redis.zrange(key, 0, -1, withscores=True)}
            elif kind == b"hash" and ":scorecards:" in name:
                out[name] = {f.decode(): json.loads(v) for f, v in (await redis.hgetall(key)).items()}
            elif kind == b"string" and ":deal:" in name:
                card = json.loads(await redis.get(key))
                card["_ranks"] = {k[len(keys.prefix) :]: v for k, v in card.get("_ranks", {}).items()}
                out[name] = card
    finally:
        await redis.aclose()
    return out


def run(coro):
    return asyncio.run(coro)

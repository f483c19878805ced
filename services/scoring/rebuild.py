"""Rebuild the Redis read model from the deal-events topic (after Redis was wiped or lost).

Reads every partition from the beginning to the end offsets taken at the start, folds the
events with the same pure domain the worker uses, and writes every deal's placement and every
scorecard row's sums per partition. The result equals what the worker wrote, because both are
the fold of the same events.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.domain.lists import place
from services.domain.scorecard import add_counts, state_parts
from services.domain.state import DealState, apply_event
from services.shared.events import decode_event
from services.shared.kafka_config import kafka_client_options
from services.shared.redis_client import redis_client
from services.shared.settings import CommonSettings
from services.shared.stages import StageMap

from .changelog import partition_for
from .read_model import write_placements
from .scorecard_rows import ScorecardRows

WRITE_BATCH = 1000


@dataclass
class RebuildSummary:
    events: int
    invalid: int
    deals: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"rebuilt {self.deals} deals from {self.events} events "
            f"({self.invalid} invalid skipped) in {self.seconds:.1f}s"
        )


def read_all_events(settings: CommonSettings, progress: Progress | None = None):
    """Yield every raw value of deal-events, from the beginning to the end offsets at start."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        client_id="pr-rebuild",
        consumer_timeout_ms=10_000,
        **kafka_client_options(settings),
    )
    try:
        partitions = consumer.partitions_for_topic(settings.deal_events_topic) or set()
        assigned = [TopicPartition(settings.deal_events_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        begins = consumer.beginning_offsets(assigned)
        task = progress.add_task("events", total=sum(ends[tp] - begins[tp] for tp in assigned)) if progress else None
        while any(consumer.position(tp) < ends[tp] for tp in assigned):
            for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
                wanted = [r.value for r in records if r.offset < ends[tp]]
                yield from wanted
                if progress and task is not None:
                    progress.advance(task, len(wanted))
    finally:
        consumer.close()


def fold_all(raw_values, stage_map: StageMap) -> tuple[dict[str, DealState], int, int]:
    """Fold every event; returns the states, the event count and the invalid count."""
    states: dict[str, DealState] = {}
    events = invalid = 0
    for raw in raw_values:
        events += 1
        try:
            event = decode_event(raw)
        except (ValidationError, ValueError):
            invalid += 1
            continue
        states[event.deal_id] = apply_event(states.get(event.deal_id), event, stage_map).state
    return states, events, invalid


def scorecard_rows(states: dict[str, DealState], stage_map: StageMap, partitions: int) -> ScorecardRows:
    """Each partition's sums of each scorecard row, from the folded states (what the worker's rows hold)."""
    rows: ScorecardRows = {}
    for deal_id, state in states.items():
        partition = partition_for(deal_id.encode(), partitions)
        for rid, counts in state_parts(state, stage_map).items():
            add_counts(rows.setdefault((partition, rid), {}), counts)
    return rows


async def write_all(settings: CommonSettings, states: dict[str, DealState], stage_map: StageMap, wipe: bool) -> None:
    redis = redis_client(settings)
    keys = settings.keys
    try:
        if wipe:
            for pattern in (keys.deal_pattern(), keys.rank_pattern(), keys.scorecards_pattern()):
                batch = []
                async for key in redis.scan_iter(pattern, count=1000):
                    batch.append(key)
                    if len(batch) >= 1000:
                        await redis.delete(*batch)
                        batch = []
                if batch:
                    await redis.delete(*batch)
            await redis.delete(keys.deleted_deals())  # refilled by write_placements below
        deal_ids = list(states)
        for start in range(0, len(deal_ids), WRITE_BATCH):
            chunk = deal_ids[start : start + WRITE_BATCH]
            # A repair: every rank entry is written, whatever the stored cards claim.
            await write_placements(
                redis,
                keys,
                {d: place(states[d], stage_map) for d in chunk},
                trust_stored_ranks=False,
                partitions=settings.deal_event_partitions,
            )
        rows = scorecard_rows(states, stage_map, settings.deal_event_partitions)
        row_ids = list(rows)
        for start in range(0, len(row_ids), WRITE_BATCH):
            row_chunk = {row: rows[row] for row in row_ids[start : start + WRITE_BATCH]}
            await write_placements(redis, keys, {}, partitions=settings.deal_event_partitions, rows=row_chunk)
    finally:
        await redis.aclose()


def rebuild(settings: CommonSettings, wipe: bool = True, show_progress: bool = True) -> RebuildSummary:
    """Rebuild the read model from Kafka; safe to run while no worker writes."""
    started = time.monotonic()
    stage_map = StageMap.load(settings.stage_map_file)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress) as progress:
        states, events, invalid = fold_all(read_all_events(settings, progress), stage_map)
    asyncio.run(write_all(settings, states, stage_map, wipe))
    return RebuildSummary(events=events, invalid=invalid, deals=len(states), seconds=time.monotonic() - started)

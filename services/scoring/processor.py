"""Folds a batch of raw deal events: table update, Redis read model, alerts.

The faust agent hands batches here; this class holds no Kafka code, so it is tested with
a plain dict for the table and a real Redis.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from pipeline_review.shared.events import decode_event
from pipeline_review.shared.keys import RedisKeys
from pipeline_review.shared.stages import StageMap

from .domain.alerts import discount_alert
from .domain.lists import Placement, place
from .domain.state import DealState, apply_event
from .read_model import write_placements

log = logging.getLogger(__name__)

AlertSink = Callable[[dict], Awaitable[None]]


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    alerts: list[dict] = field(default_factory=list)


class DealProcessor:
    """Applies events to the deal table and mirrors the result into Redis."""

    def __init__(self, table: MutableMapping, redis, keys: RedisKeys, stage_map: StageMap, send_alert: AlertSink):
        self.table = table
        self.redis = redis
        self.keys = keys
        self.stage_map = stage_map
        self.send_alert = send_alert

    async def process(self, raw_values: list[bytes]) -> BatchOutcome:
        """Fold a batch, write the touched deals to Redis, then emit the alerts it raised."""
        outcome = BatchOutcome()
        touched: dict[str, Placement] = {}
        for raw in raw_values:
            try:
                event = decode_event(raw)
            except (ValidationError, ValueError) as exc:
                # ingest validates everything it produces; this only guards against other writers.
                outcome.invalid += 1
                log.warning("skipping an invalid event on deal-events: %s", str(exc)[:300])
                continue
            table_key = event.deal_id.encode()  # the event's Kafka key, so the same partition
            stored = self.table.get(table_key)
            previous = DealState.from_dict(stored) if stored else None
            applied = apply_event(previous, event, self.stage_map)
            if applied.duplicate:
                outcome.duplicates += 1
            else:
                outcome.applied += 1
                self.table[table_key] = applied.state.to_dict()
                alert = discount_alert(event, applied.state, self.stage_map)
                if alert is not None:
                    outcome.alerts.append(alert)
            # Duplicates are rewritten too: the first copy may have reached the table but
            # not Redis before a crash, and rewriting is idempotent.
            touched[event.deal_id] = place(applied.state, self.stage_map)
        await write_placements(self.redis, self.keys, touched)
        for alert in outcome.alerts:
            await self.send_alert(alert)
        return outcome


def encode_alert(alert: dict) -> bytes:
    return json.dumps(alert, separators=(",", ":")).encode()

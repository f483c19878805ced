"""Raises ``stalled`` alerts when time passes with no new event.

The due-time index is one Redis sorted set per deal-events partition
(``p:rank:stall-due:<partition>``, deal_id -> epoch s), written with the read model from each
deal's placement: an open early or mid deal whose stall is still to be alerted is in it, any
other deal is not. It survives worker restarts and rebalances (it is in Redis, and a Redis
that lost it is rewritten from the deal table like the rest of the read model), and a check
reads only the due entries of the partitions the worker owns, never every deal.

A faust timer reads those entries and sends each due deal's id as a record on the worker's
own topic ``<app id>-stall-checks`` (same partition count and key as deal-events, so the same
worker owns it). An agent folds those records like events: under the processor's lock, it
checks the deal against its state in the table, and saves the "alerted" mark and the alert
together, in the transaction that commits the record's offset. Why the detour through Kafka:
with exactly-once, a transaction commits only with consumed offsets, so an alert sent by the
timer itself would stay invisible until the next event arrived. The records are sent outside
any transaction, hence visible at once; a record sent twice finds the mark and raises nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.shared.keys import RedisKeys

log = logging.getLogger(__name__)

CHECK_BATCH = 500  # due deals read per partition and check
RESEND_AFTER = 300.0  # s before a deal whose check is under way is named again


def stall_checks_topic(app_id: str) -> str:
    """The worker's own topic of stall checks (named like faust's internal topics)."""
    return f"{app_id}-stall-checks"


class StallWatch:
    """Finds the deals of the owned partitions whose stall is due, and names them for a check."""

    def __init__(
        self,
        redis,
        keys: RedisKeys,
        owned_partitions: Callable[[], set[int]],
        clock: Callable[[], float] = time.time,
        batch: int = CHECK_BATCH,
    ):
        self.redis = redis
        self.keys = keys
        self.owned_partitions = owned_partitions
        self.clock = clock
        self.batch = batch
        self.sent: dict[str, float] = {}  # deal_id -> when it was last named (monotonic)

    async def due(self) -> dict[int, list[str]]:
        """partition -> the deal ids due by now that were not named in the last RESEND_AFTER seconds."""
        now, recent = self.clock(), time.monotonic() - RESEND_AFTER
        self.sent = {deal: at for deal, at in self.sent.items() if at > recent}
        found: dict[int, list[str]] = {}
        for partition in sorted(self.owned_partitions()):
            members = await self.redis.zrangebyscore(
                self.keys.stall_due(partition), "-inf", now, start=0, num=self.batch
            )
            deals = [m.decode() if isinstance(m, bytes) else m for m in members]
            fresh = [deal for deal in deals if deal not in self.sent]
            if fresh:
                found[partition] = fresh
        return found

    def named(self, deal_ids: list[str]) -> None:
        """These deals were sent for a check: leave them out for a while."""
        at = time.monotonic()
        self.sent.update(dict.fromkeys(deal_ids, at))

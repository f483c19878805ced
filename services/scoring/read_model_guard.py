"""Keeps the Redis read model whole through Redis outages, restarts and wipes.

Two duties, both around :func:`read_model.write_placements`:

- **A batch is done only when Redis has it.** faust's ``stream.take`` acks a batch's events
  when the agent moves on *or raises*, so a Redis error that escaped the agent would commit
  the batch without its Redis write. :meth:`ReadModelGuard.write` therefore retries (tenacity,
  exponential backoff with jitter) until the write lands, holding the agent on that batch.
  The outage is logged once when it starts and once when it ends.
- **Redis that came back without its data is rewritten.** Each worker keeps, in the hash
  ``p:scoring:synced``, one field per deal-events partition it owns whose value is the
  ``run_id`` of the Redis server that holds that partition's cards (``INFO server``). A Redis
  restart changes the run id (its append-only file may miss the last second of writes); a
  FLUSHALL removes the hash. Either way the worker rewrites the cards and rankings of its
  partitions from its deal table, which is always at least as new as Redis (states are saved
  to the table before Redis is written), and the partitions' scorecard rows from the rows the
  table keeps beside the deals. A first start with an empty Redis is the same case.

The check runs before the first write after any failure, and periodically (a faust timer),
so a wipe is repaired even when no events arrive. A lock keeps a rewrite and the agent's
writes from interleaving: the agent's write, of a state saved before it, always lands last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from redis.exceptions import OutOfMemoryError, ReadOnlyError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from services.domain.lists import Placement, place
from services.domain.state import DealState
from services.shared.keys import RedisKeys
from services.shared.redis_client import REDIS_UNAVAILABLE, server_run_id
from services.shared.stages import StageMap

from .changelog import partition_for
from .read_model import write_placements
from .scorecard_rows import ScorecardRows, decode_counts, row_of, split_table

log = logging.getLogger(__name__)

REWRITE_CHUNK = 1000  # deals per read-model write while rewriting, as the rebuild does
# Worth waiting out as well: Redis full (maxmemory with noeviction) or a replica not yet
# promoted answer writes with an error that clears without any change on the worker's side.
WRITE_RETRIED = (*REDIS_UNAVAILABLE, OutOfMemoryError, ReadOnlyError)


def synced_key(keys: RedisKeys) -> str:
    """Hash partition -> run id of the Redis that holds the partition's cards."""
    return keys.scoring_synced()


class ReadModelGuard:
    """Writes placements through outages and rewrites the worker's partitions when Redis lost them."""

    def __init__(
        self,
        redis,
        keys: RedisKeys,
        stage_map: StageMap,
        partitions: int,
        table_items: Callable[[], Iterable[tuple[bytes, bytes]]],
        owned_partitions: Callable[[], set[int]],
        ready: Callable[[], bool] = lambda: True,
        max_backoff: float = 2.0,
    ):
        """``table_items`` lists the deal table (raw key, encoded state); ``owned_partitions`` the
        deal-events partitions this worker owns now; ``ready`` says whether the table is
        recovered, so a half-recovered table never overwrites newer cards."""
        self.redis = redis
        self.keys = keys
        self.stage_map = stage_map
        self.partitions = partitions
        self.table_items = table_items
        self.owned_partitions = owned_partitions
        self.ready = ready
        self.max_backoff = max_backoff
        self.lock = asyncio.Lock()
        self.suspect = True  # check for lost data before the next write: at start, after any failure
        self.pending: set[int] = set()  # partitions found lost whose rewrite has not finished yet
        self.outage_since: float | None = None
        self.writing = False  # a batch's write is in progress or waiting to retry
        self.rewrites = 0
        self.rewritten_deals = 0

    async def write(self, placements: dict[str, Placement], rows: ScorecardRows | None = None) -> None:
        """Write these placements and scorecard rows; returns only once Redis has them (retries through outages)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(WRITE_RETRIED),
            wait=wait_exponential_jitter(multiplier=0.05, max=self.max_backoff),
            before_sleep=self._before_retry,
            reraise=True,
        )
        self.writing = True
        try:
            async for attempt in retrying:
                with attempt:
                    async with self.lock:
                        if self.suspect:
                            await self._sync()
                        await write_placements(self.redis, self.keys, placements, partitions=self.partitions, rows=rows)
        finally:
            self.writing = False
        self._reachable()

    async def check(self) -> None:
        """The periodic check: rewrite what Redis lost. An outage is noted, never raised.

        Skipped while a batch's write is under way or retrying: that write checks first itself,
        and only its success ends an outage (a Redis that answers reads but not writes, such as
        one paused or out of memory, is still down for the worker)."""
        if self.writing:
            return
        try:
            async with self.lock:
                await self._sync()
        except WRITE_RETRIED as exc:
            self._unreachable(exc)
        else:
            self._reachable()

    def status(self) -> dict:
        outage = None if self.outage_since is None else round(time.monotonic() - self.outage_since, 1)
        return {
            "redis_outage_seconds": outage,
            "read_model_rewrites": self.rewrites,
            "rewritten_deals": self.rewritten_deals,
        }

    async def _sync(self) -> None:
        """Compare each owned partition's mark with the server's run id; rewrite the ones that differ."""
        self.suspect = True
        if not self.ready():
            return  # still suspect: checked again once the table is recovered
        run_id = await server_run_id(self.redis, synced_key(self.keys))
        marks = {int(p): v.decode() for p, v in (await self.redis.hgetall(synced_key(self.keys))).items()}
        owned = self.owned_partitions()
        lost = {p for p in owned if marks.get(p) != run_id} | (self.pending & owned)
        if lost:
            self.pending |= lost
            # Mark first: a wipe or restart during the rewrite then removes or outdates the
            # mark, and ``pending`` covers a rewrite cut short by an error.
            await self.redis.hset(synced_key(self.keys), mapping={str(p): run_id for p in lost})
            started = time.monotonic()
            deals = await self._rewrite(lost)
            self.pending -= lost
            self.rewrites += 1
            self.rewritten_deals += deals
            why = (
                "no marks at all: a first start, or Redis was wiped"
                if not marks
                else "Redis restarted (new run id) or lost these marks"
            )
            log.warning(
                "read model of partitions %s missing in Redis (%s): rewrote %d deals from the deal table in %.2fs",
                sorted(lost),
                why,
                deals,
                time.monotonic() - started,
            )
        self.suspect = False

    async def _rewrite(self, partitions: set[int]) -> int:
        """Write the placement of every deal of ``partitions`` in the table, and their scorecard
        rows; returns how many deals."""
        deals, row_items = split_table(
            (key, value)
            for key, value in list(self.table_items())
            if value and partition_for(key, self.partitions) in partitions
        )
        for start in range(0, len(deals), REWRITE_CHUNK):
            chunk = deals[start : start + REWRITE_CHUNK]
            placements = {}
            for _key, value in chunk:
                state = DealState.decode(value)
                placements[state.deal_id] = place(state, self.stage_map)
            await write_placements(
                self.redis, self.keys, placements, trust_stored_ranks=False, partitions=self.partitions
            )
        rows = {row_of(key, self.partitions): decode_counts(value) for key, value in row_items}
        for start in range(0, len(rows), REWRITE_CHUNK):
            chunk_rows = dict(list(rows.items())[start : start + REWRITE_CHUNK])
            await write_placements(self.redis, self.keys, {}, partitions=self.partitions, rows=chunk_rows)
        return len(deals)

    def _before_retry(self, retry_state: RetryCallState) -> None:
        self._unreachable(retry_state.outcome.exception() if retry_state.outcome else None)

    def _unreachable(self, exc: BaseException | None) -> None:
        self.suspect = True
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            log.warning(
                "Redis unreachable (%s): the batch being written stays un-acked and is retried until Redis is back", exc
            )

    def _reachable(self) -> None:
        if self.outage_since is not None:
            log.warning("Redis reachable again after %.1fs; folding resumes", time.monotonic() - self.outage_since)
            self.outage_since = None

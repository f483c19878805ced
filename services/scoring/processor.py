"""Folds a batch of raw deal events: table update, Redis read model, alerts.

The faust agent hands batches here; this class holds no Kafka code, so it is tested with
a plain dict for the table and a real Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Protocol, cast

from pydantic import ValidationError

from services.domain.alerts import discount_alert
from services.domain.lists import Placement, place
from services.domain.movement import STALL_UNKNOWN, mark_stall_alerted, movement_alerts, stall_of, stalled_alert
from services.domain.scorecard import Counts, add_counts, part_changes, state_parts
from services.domain.state import DealState, apply_event
from services.shared.alerts import Alert
from services.shared.events import decode_event
from services.shared.keys import RedisKeys
from services.shared.stages import StageMap

from .changelog import partition_for
from .read_model import write_placements
from .scorecard_rows import ScorecardRows, decode_counts, encode_counts, row_key

log = logging.getLogger(__name__)

AlertSink = Callable[[Alert], Awaitable[None]]
# Returns the partitions whose share it dropped (their transaction was fenced after they moved), or None.
StateSink = Callable[[dict[bytes, bytes], list[Alert]], Awaitable[Collection[int] | None]]
ReadModelSink = Callable[[dict[str, Placement], ScorecardRows], Awaitable[None]]
Clock = Callable[[], dt.datetime]


class DealTable(Protocol):
    """What the processor reads deal states from: the faust table, or the RocksDB committed-store view."""

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    alerts: list[Alert] = field(default_factory=list)


class DealProcessor:
    """Applies events to the deal table and mirrors the result into Redis."""

    def __init__(
        self,
        table: DealTable,
        redis,
        keys: RedisKeys,
        stage_map: StageMap,
        send_alert: AlertSink | None,
        save_states: StateSink | None = None,
        write_read_model: ReadModelSink | None = None,
        horizon_quarters: int = 1,
        clock: Clock = utc_now,
        partitions: int | None = None,
    ):
        """``table`` maps the deal id (bytes) to its encoded state. ``save_states(updates, alerts)``
        stores a batch's new states and sends the alerts they raised, in one step; by default
        each state is one ``table[key] = value`` and each alert goes to ``send_alert``. The
        worker passes BulkChangelog.write, which puts both into the same Kafka transactions and
        returns the partitions it dropped (fenced after they moved): their deals are left out of
        the Redis write, since a late write could overwrite a newer card of the new owner.
        ``write_read_model(placements, rows)`` writes Redis (the deals' placements and the scorecard
        rows' new sums, see scorecard_rows.py); by default one ``write_placements``, the
        worker passes ReadModelGuard.write, which retries through Redis outages.
        ``horizon_quarters`` is the manager horizon a close-date push leaves; ``clock`` tells when
        a deal is stalled; ``partitions`` (of deal-events) places deals in the stall due-time index."""
        if save_states is None and send_alert is None:
            raise ValueError("DealProcessor needs send_alert, or a save_states that sends the alerts")
        self.table = table
        self.redis = redis
        self.keys = keys
        self.stage_map = stage_map
        self.send_alert = send_alert
        self.save_states = save_states or self._save_into_table
        self.write_read_model = write_read_model or self._write_redis
        self.horizon_quarters = horizon_quarters
        self.clock = clock
        self.partitions = partitions
        # A batch and a stall check each load, change and save deal states: never interleaved.
        self.lock = asyncio.Lock()

    async def _write_redis(self, placements: dict[str, Placement], rows: ScorecardRows) -> None:
        await write_placements(self.redis, self.keys, placements, partitions=self.partitions, rows=rows)

    def _without_dropped(
        self,
        dropped: Collection[int] | None,
        placements: dict[str, Placement],
        alerts: list[Alert],
        rows: ScorecardRows | None = None,
    ) -> tuple[dict[str, Placement], list[Alert], ScorecardRows]:
        """The placements, alerts and scorecard rows of this batch outside the ``dropped`` partitions
        (their transaction aborts: the partition is folded again, by its new owner or by this worker)."""
        rows = rows or {}
        if not dropped:
            return placements, alerts, rows
        if self.partitions is None:
            raise ValueError("save_states dropped partitions, but the processor was not told the partition count")
        partitions = self.partitions
        dropped = set(dropped)

        def kept(deal_id: str) -> bool:
            return partition_for(deal_id.encode(), partitions) not in dropped

        return (
            {deal_id: placement for deal_id, placement in placements.items() if kept(deal_id)},
            [alert for alert in alerts if kept(alert.deal_id)],
            {row: counts for row, counts in rows.items() if row[0] not in dropped},
        )

    def _add_scorecard_parts(
        self, working: dict[str, DealState], changed: set[str]
    ) -> tuple[ScorecardRows, set[tuple[int, str]]]:
        """Add to the scorecard rows what the changed deals' parts changed by; returns the rows'
        sums and the rows that changed.

        Each deal remembers what it last added (``DealState.scorecard``), so a later event that
        alters an action's facts (a close, an item made known, an older event arriving late)
        corrects the sums by the difference; a deal without actions costs nothing here. The rows
        of a deal that only saw duplicates are returned unchanged, to be rewritten to Redis like
        its card: without transactions, a crash may have saved them but not written them there."""
        partitions = self.partitions or 1
        rows: ScorecardRows = {}
        dirty: set[tuple[int, str]] = set()

        def row(partition: int, rid: str) -> Counts:
            if (partition, rid) not in rows:
                rows[(partition, rid)] = decode_counts(self.table.get(row_key(partition, rid, partitions)))
            return rows[(partition, rid)]

        for deal_id, state in working.items():
            if not state.actions and not state.scorecard:
                continue
            partition = partition_for(deal_id.encode(), partitions)
            if deal_id not in changed:
                for rid in state.scorecard:
                    row(partition, rid)
                continue
            parts = state_parts(state, self.stage_map)
            changes = part_changes(state.scorecard, parts)
            state.scorecard = parts
            for rid, delta in changes.items():
                add_counts(row(partition, rid), delta)
                dirty.add((partition, rid))
        return rows, dirty

    async def _save_into_table(self, updates: dict[bytes, bytes], alerts: list[Alert]) -> None:
        table = cast(MutableMapping, self.table)  # without save_states the table is a plain mapping
        for key, value in updates.items():
            table[key] = value
        assert self.send_alert is not None  # the constructor's check: no save_states, so a send_alert
        for alert in alerts:
            await self.send_alert(alert)

    async def process(self, raw_values: list[bytes]) -> BatchOutcome:
        """Fold a batch, save the new states with the alerts they raised, then write Redis.

        Each deal touched by the batch is loaded from the table once, folded in place on a
        working copy, and written back to the table (one changelog record, with its alerts) and
        to Redis once, in that order: a crash in between is repaired by the replay, never the
        other way round.
        """
        async with self.lock:
            return await self._process(raw_values)

    async def _process(self, raw_values: list[bytes]) -> BatchOutcome:
        outcome = BatchOutcome()
        working: dict[str, DealState] = {}  # deal_id -> this batch's working copy, in first-seen order
        changed: set[str] = set()
        for raw in raw_values:
            try:
                event = decode_event(raw)
            except (ValidationError, ValueError) as exc:
                # ingest validates everything it produces; this only guards against other writers.
                outcome.invalid += 1
                log.warning("skipping an invalid event on deal-events: %s", str(exc)[:300])
                continue
            deal_id = event.deal_id
            state = working.get(deal_id)
            if state is None:
                stored = self.table.get(deal_id.encode())  # the event's Kafka key, so the same partition
                state = DealState.decode(stored) if stored else None  # a fresh object this batch owns
            applied = apply_event(state, event, self.stage_map, in_place=True)
            working[deal_id] = applied.state
            if applied.duplicate:
                outcome.duplicates += 1
            else:
                outcome.applied += 1
                changed.add(deal_id)
                alert = discount_alert(event, applied.state, self.stage_map)
                if alert is not None:
                    outcome.alerts.append(alert)
                outcome.alerts.extend(
                    Alert(**a) for a in movement_alerts(event, applied.state, self.stage_map, self.horizon_quarters)
                )
        # A deal already stalled when folded (an old occurred_at, a replay) alerts at once; the
        # mark saved with the alert keeps the stall check from raising it again.
        now = self.clock()
        stalls = {}  # deal id -> its stall_of, asked once for the alert and the card
        for deal_id in changed:
            stalls[deal_id] = stall = stall_of(working[deal_id], self.stage_map)
            stalled = stalled_alert(working[deal_id], self.stage_map, now, stall)
            if stalled is not None:
                mark_stall_alerted(working[deal_id])
                outcome.alerts.append(Alert(**stalled))
        rows, changed_rows = self._add_scorecard_parts(working, changed)
        updates = {deal_id.encode(): working[deal_id].encode() for deal_id in changed}
        partitions = self.partitions or 1
        # A row that sums to nothing stays, as {}: its key is where the next part is added. Only
        # the rows this batch changed are saved; the others were loaded to be rewritten to Redis.
        updates.update({row_key(p, rid, partitions): encode_counts(rows[(p, rid)]) for p, rid in changed_rows})
        dropped = await self.save_states(updates, outcome.alerts)
        # Duplicates are rewritten too: the first copy may have reached the table but
        # not Redis before a crash, and rewriting is idempotent.
        touched: dict[str, Placement] = {
            deal_id: place(state, self.stage_map, now, stalls.get(deal_id, STALL_UNKNOWN))
            for deal_id, state in working.items()
        }
        touched, outcome.alerts, rows = self._without_dropped(dropped, touched, outcome.alerts, rows)
        await self.write_read_model(touched, rows)
        return outcome

    async def check_stalls(self, deal_ids: Iterable[str]) -> list[Alert]:
        """Raise the stalled alerts now due for these deals (the due-time index named them).

        Each deal is re-checked against its state in the table: one that moved, closed or was
        alerted since is only re-placed, which corrects its entry in the index."""
        async with self.lock:
            now = self.clock()
            alerts: list[Alert] = []
            updates: dict[bytes, bytes] = {}
            placements: dict[str, Placement] = {}
            for deal_id in dict.fromkeys(deal_ids):
                stored = self.table.get(deal_id.encode())
                if not stored:
                    continue
                state = DealState.decode(stored)
                stall = stall_of(state, self.stage_map)  # once, for the alert and the card, as in _process
                alert = stalled_alert(state, self.stage_map, now, stall)
                if alert is not None:
                    mark_stall_alerted(state)
                    alerts.append(Alert(**alert))
                    updates[deal_id.encode()] = state.encode()
                placements[deal_id] = place(state, self.stage_map, now, stall)
            if updates:
                dropped = await self.save_states(updates, alerts)
                placements, alerts, _rows = self._without_dropped(dropped, placements, alerts)
            if placements:
                await self.write_read_model(placements, {})
            return alerts


def encode_alert(alert: Alert) -> bytes:
    return alert.record()

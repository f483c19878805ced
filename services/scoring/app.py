"""The faust worker: the composition root of the scoring service."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import Callable

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry

from services.domain.retention import removal_cutoff
from services.shared import tracing
from services.shared.kafka_config import faust_broker_credentials
from services.shared.redis_client import redis_client
from services.shared.stages import StageMap

from .changelog import BulkChangelog
from .committed_store import CommittedStore
from .faust_compat import (
    CompatApp,
    FencedTransactions,
    ForgetMovedPartitions,
    RecoveryErrors,
    check_faust,
    plain_producer,
)
from .moved_partitions import drop_partitions
from .observe import FoldMetrics, fold_spans
from .processor import Clock, DealProcessor, DealTable, encode_alert, utc_now
from .read_model import sweep_deleted
from .read_model_guard import ReadModelGuard
from .settings import ScoringSettings
from .stall_watch import StallWatch, stall_checks_topic

log = logging.getLogger(__name__)


def create_app(settings: ScoringSettings | None = None, clock: Clock = utc_now) -> faust.App:
    """Build the faust app: the deal table with its changelog, the folding agent, health pages.

    ``clock`` tells when deals are stalled (tests pass their own)."""
    settings = settings or ScoringSettings()
    check_faust()  # the workarounds in faust_compat.py match the installed faust, or the start fails here
    common = settings.common
    tracing.configure("scoring", common.otlp_endpoint)
    stage_map = StageMap.load(common.stage_map_file)
    app = CompatApp(
        settings.app_id,
        broker=[f"kafka://{host}" for host in common.kafka_bootstrap.split(",")],
        broker_credentials=faust_broker_credentials(common),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=settings.prepared_data_dir(),
        topic_partitions=common.deal_event_partitions,
        # Changelog and assignor topics get as many replicas as the project's own topics.
        topic_replication_factor=common.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        producer_acks=-1,
        # With transactions a commit is what makes alerts visible to read_committed readers:
        # faust's default of 2.8 s would be most of an alert's delay.
        broker_commit_interval=settings.commit_interval,
        # No linger: BulkChangelog hands the producers whole record batches (the states and the
        # alerts), so waiting for more records only delays each batch's acks, which the Redis
        # write waits for (docs/benchmarks.md, step 4: +6 % events/s at 100k deals).
        producer_linger=0.0,
        table_standby_replicas=settings.standby_replicas,
        # Transactions tie the changelog, the alerts and the consumed offsets together:
        # a crashed worker neither loses nor repeats an alert.
        processing_guarantee="exactly_once" if settings.exactly_once else "at_least_once",
        # faust records commit times only on its non-transactional path, so with exactly-once
        # it logs "Has not committed ... at all since worker start" (six multi-line ERRORs a
        # second) once a catch-up lasts over 5 minutes, while offsets do advance (checked
        # with the group's committed offsets during the 1M-deal benchmark). Off in that mode.
        broker_commit_livelock_soft_timeout=86400.0 if settings.exactly_once else 300.0,
    )
    app.transaction_timeout_ms = round(settings.transaction_timeout * 1000)
    deal_events = app.topic(
        common.deal_events_topic,
        key_type=bytes,
        value_type=bytes,
        value_serializer="raw",
        key_serializer="raw",
        partitions=common.deal_event_partitions,
    )
    # use_partitioner: changelog records go to partition murmur2(deal_id), the same
    # partition as the deal's events, so a batch may update many deals safely.
    deals = app.Table(
        "deals",
        default=None,
        # Keys are raw bytes: the very key ingest gives the event, hence the same partition.
        # Values are the deal state as JSON bytes, encoded by DealState.encode (orjson) rather
        # than by faust's JSON codec. The serializers come from these types (bytes = "raw"),
        # also when recovering from the changelog: a Schema argument alone is not used there.
        key_type=bytes,
        value_type=bytes,
        partitions=common.deal_event_partitions,
        use_partitioner=True,
        # The changelog is the deal table's only durable copy: acks=all needs this many replicas.
        extra_topic_configs={"min.insync.replicas": str(common.topic_min_insync_replicas)},
        options=settings.rocksdb_options(common.deal_event_partitions) if settings.store == "rocksdb" else None,
    )
    if settings.store == "rocksdb":
        # RocksDB outlives the process: states wait there for their transaction to commit.
        committed = CommittedStore(deals.data, common.deal_event_partitions, deals.changelog_topic.get_topic_name, TP)
        app.pr_commit_listener = committed  # the producer, built later, reports each transaction's outcome to it
        table_view: DealTable = committed
        forget: Callable[[set[int]], int] = committed.discard
    else:
        committed = None
        table_view = deals

        def forget_in_memory(moved: set[int]) -> int:
            return drop_partitions(deals.data, moved, common.deal_event_partitions)

        forget = forget_in_memory
    # States written in a transaction that a rebalance aborted must not outlive it: see moved_partitions.py.
    ForgetMovedPartitions(app, deals, common.deal_events_topic, forget).install()
    # faust skips a changelog record it fails to apply with a warning; counted, it fails /readyz.
    metrics_registry = CollectorRegistry()
    recovery_errors = RecoveryErrors(metrics_registry).install()
    app.pr_metrics_registry = metrics_registry
    app.pr_recovery_errors = recovery_errors
    redis = redis_client(common)

    def owned_partitions() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == common.deal_events_topic}

    def partition_moved(partition: int) -> bool:
        """May a fenced transaction of ``partition`` be dropped (faust_compat.FencedTransactions)?
        Yes once the partition has left this worker. While a rebalance is under way, only with
        RocksDB: there the aborted transaction's states were only staged (forgotten with it) and
        faust's seek refolds the partition from its committed offset; the memory store already
        holds them and, for a partition that stays, nothing would rebuild it, so that crashes."""
        if partition not in owned_partitions():
            return True
        return committed is not None and bool(app.rebalancing)

    # A rebalance that moves a partition while its transaction is under way fences the producer.
    # The fence may come before this worker hears of the rebalance: the session timeout bounds the wait.
    def group_view() -> str:
        standbys = sorted(
            tp.partition
            for tp in app.assignor.assigned_standbys()
            if tp.topic == deals.changelog_topic.get_topic_name()
        )
        return (
            f"rebalancing={app.rebalancing}, generation={app.consumer_generation_id}, "
            f"actives={sorted(owned_partitions())}, standbys={standbys}"
        )

    fenced = FencedTransactions(app, partition_moved, forget, patience=settings.session_timeout, describe=group_view)
    app.pr_fenced = fenced

    def table_recovered() -> bool:
        recovery = app.tables.recovery
        return recovery.completed.is_set() and not recovery.in_recovery and not app.rebalancing

    # Redis writes retry through outages, and what a restarted or wiped Redis lost is
    # rewritten from the deal table: see read_model_guard.py.
    guard = ReadModelGuard(
        redis,
        common.keys,
        stage_map,
        common.deal_event_partitions,
        table_items=lambda: committed.items() if committed else deals.data.items(),
        owned_partitions=owned_partitions,
        ready=table_recovered,
        max_backoff=settings.redis_max_backoff,
    )
    # Alerts travel with the deal states, in the same transactions: see changelog.py.
    changelog = BulkChangelog(
        app,
        deals,
        common.deal_event_partitions,
        common.deal_alerts_topic,
        encode_alert,
        committed=committed,
        fenced=fenced,
    )
    processor = DealProcessor(
        table_view,
        redis,
        common.keys,
        stage_map,
        send_alert=None,
        save_states=changelog.write,
        write_read_model=guard.write,
        horizon_quarters=settings.push_horizon_quarters,
        clock=clock,
        partitions=common.deal_event_partitions,
    )
    # Stalls: a due-time index in Redis, read by a timer, checked by an agent: see stall_watch.py.
    stall_checks = app.topic(
        stall_checks_topic(settings.app_id),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=common.deal_event_partitions,
        internal=True,
        retention=dt.timedelta(days=1),
    )
    stall_watch = StallWatch(redis, common.keys, owned_partitions, clock=lambda: clock().timestamp())
    # Counters on /readyz. stall_passes and stall_named let a test wait for "the timer ran again
    # and every deal it named was checked" instead of sleeping before it asserts nothing was raised.
    app.pr_state = {
        "batches": 0,
        "events": 0,
        "deleted_removed": 0,
        "stall_checks": 0,
        "stalled_alerts": 0,
        "stall_passes": 0,
        "stall_named": 0,
    }
    metrics = FoldMetrics(app, settings, common.deal_events_topic, registry=metrics_registry)
    app.pr_metrics = metrics

    @app.agent(deal_events, name="fold-deals")
    async def fold_deals(stream):
        frozen = False
        # Events rather than values: their Kafka timestamps give the freshness.
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            if not frozen:
                # The objects of the started worker (modules, faust, aiokafka, the app) live as long
                # as the process: moved out of the cyclic GC's reach, its full collections no longer
                # scan them at every few batches (a quarter of the fold's in-process CPU before,
                # docs/benchmarks.md). Reference counting still frees what they drop.
                gc.freeze()
                frozen = True
            batch = [event.value for event in events]
            if tracing.enabled():
                with fold_spans(events, changelog):
                    outcome = await processor.process(batch)
            else:
                outcome = await processor.process(batch)
            metrics.observe(events, outcome)
            app.pr_state["batches"] += 1
            app.pr_state["events"] += len(batch)
            if outcome.alerts:
                log.info("raised %d alert(s)", len(outcome.alerts))

    @app.agent(stall_checks, name="check-stalls")
    async def check_stalls(stream):
        async for batch in stream.take(settings.batch_size, within=settings.batch_within):
            alerts = await processor.check_stalls([raw.decode() for raw in batch])
            app.pr_state["stall_checks"] += len(batch)
            app.pr_state["stalled_alerts"] += len(alerts)
            if alerts:
                log.info("raised %d stalled alert(s)", len(alerts))

    @app.timer(interval=settings.stall_check_interval, name="find-stalled-deals")
    async def find_stalled_deals():
        if not table_recovered():
            return  # the table decides; the next tick finds the same entries
        try:
            due = await stall_watch.due()
            producer = plain_producer(app)  # outside any transaction: see stall_watch.py
            for partition, deal_ids in due.items():
                for deal_id in deal_ids:
                    await producer.send(
                        stall_checks.get_topic_name(), deal_id.encode(), key=deal_id.encode(), partition=partition
                    )
                stall_watch.named(deal_ids)
                app.pr_state["stall_named"] += len(deal_ids)
        except Exception as exc:  # noqa: BLE001 - Redis or Kafka away: the next tick finds the same entries
            log.warning("stall check failed: %s: %s", type(exc).__name__, exc)
            return
        app.pr_state["stall_passes"] += 1

    @app.timer(interval=settings.deleted_sweep_interval, name="sweep-deleted-deals")
    async def sweep_deleted_deals():
        # Every worker may run it: the sweep is atomic per batch and idempotent.
        try:
            cutoff = removal_cutoff(dt.datetime.now(dt.UTC), settings.deleted_grace_days)
            removed = await sweep_deleted(redis, common.keys, cutoff)
        except Exception as exc:  # noqa: BLE001 - Redis away: the next sweep removes what this one missed
            log.warning("sweep of deleted deals failed: %s: %s", type(exc).__name__, exc)
            return
        app.pr_state["deleted_removed"] += removed
        if removed:
            log.info(
                "removed %d deleted deal card(s) past the %g-day grace period", removed, settings.deleted_grace_days
            )

    @app.timer(interval=settings.redis_check_interval)
    async def check_read_model():
        await guard.check()

    @app.page("/healthz")
    async def healthz(web, request):
        return web.json({"status": "ok", "service": "scoring"})

    @app.page("/metrics")
    async def prometheus_metrics(web, request):
        return metrics.page(web, request)

    @app.page("/readyz")
    async def readyz(web, request):
        recovered = app.tables.recovery.completed.is_set()
        try:
            await redis.ping()
            redis_ok = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            redis_ok = False
        # Whether this worker really commits through Kafka transactions (exactly-once set and
        # the consumer built inside the worker, see faust_compat.CompatApp).
        transactions = app.in_transaction and app.consumer.in_transaction
        # A record faust failed to apply in recovery is state this worker lacks: not ready
        # until a restart has recovered the table again.
        intact = recovery_errors.count == 0
        body = {
            "recovered": recovered,
            "redis": redis_ok,
            "transactions": transactions,
            "recovery_errors": recovery_errors.count,
            **app.pr_state,
            **guard.status(),
        }
        if recovery_errors.last_error:
            body["last_recovery_error"] = recovery_errors.last_error
        return web.json(body, status=200 if recovered and redis_ok and intact else 503)

    app.pr_readyz = readyz  # the view, for tests

    return app

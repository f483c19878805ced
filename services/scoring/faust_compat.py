"""Every piece of the worker that touches faust-streaming's private attributes or rewires its methods.

faust-streaming 0.15.3 needs a few workarounds (why each exists, and how it was found: the
section "faust's workarounds in one place" in docs/decisions.md). They live here, and only
here, so an upgrade is checked in one place: :func:`check_faust` verifies at start that every
attribute they rely on exists, and fails naming the installed faust version if one is gone.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import faust
from aiokafka.errors import IllegalOperation, ProducerFenced
from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)


class FaustIncompatible(RuntimeError):
    """The installed faust-streaming lacks something this module relies on."""


def _faust_version() -> str:
    return getattr(faust, "__version__", "unknown")


# (dotted class, attribute, how to find it): "class" = an attribute of the class itself,
# "init" = set as ``self.<name>`` by the class's __init__, "source" = text in the method's code.
_CONTRACT: tuple[tuple[str, str, str], ...] = (
    ("faust.app.base.App", "_new_consumer", "class"),
    ("faust.transport.consumer.Consumer", "resume_partitions", "class"),
    ("faust.transport.consumer.Consumer", "perform_seek", "class"),
    ("faust.transport.consumer.Consumer", "seek_to_committed", "class"),
    ("faust.transport.consumer.ThreadDelegateConsumer", "_thread", "init"),
    ("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_highwaters", "class"),
    ("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_ensure_consumer", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "_ensure_producer", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "_transaction_producers", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "_trn_locks", "class"),
    ("faust.tables.base.Collection", "on_rebalance", "class"),
    ("faust.tables.recovery.Recovery", "revoke", "class"),
    ("faust.tables.recovery.Recovery", "_slurp_changelogs", "class"),
    ("faust.tables.recovery.Recovery._slurp_changelogs", "Error in recovery", "source"),
    ("faust.tables.recovery", "logger", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "commit_transactions", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "abort_transaction", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "stop_transaction", "class"),
    ("faust.transport.drivers.aiokafka.Producer.commit_transactions", "commit_transaction()", "source"),
    ("faust.stores.rocksdb.Store", "_db_for_partition", "class"),
    ("faust.stores.rocksdb.Store", "set_persisted_offset", "class"),
    ("faust.transport.drivers.aiokafka.Producer", "_settings_extra", "class"),
    ("faust.transport.consumer.Consumer", "_read_offset", "init"),
    ("faust.transport.consumer.Consumer", "transactions", "init"),
    ("faust.transport.consumer.TransactionManager", "on_rebalance", "class"),
)


def _resolve(dotted: str) -> Any:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


def check_faust(contract: Iterable[tuple[str, str, str]] = _CONTRACT) -> None:
    """Raise :class:`FaustIncompatible` naming faust's version and every missing attribute."""
    missing = []
    for dotted, name, kind in contract:
        try:
            owner = _resolve(dotted)
            if kind == "class":
                found = hasattr(owner, name)
            elif kind == "init":
                found = f"self.{name} =" in inspect.getsource(owner.__init__)
            else:
                # mode's @Service.task wraps the coroutine function in a ServiceTask(fun).
                found = name in inspect.getsource(getattr(owner, "fun", owner))
        except (AttributeError, ImportError, OSError, TypeError):
            found = False
        if not found:
            missing.append(f"{dotted}.{name}" if kind != "source" else f"{name!r} in {dotted}")
    if missing:
        raise FaustIncompatible(
            f"faust-streaming {_faust_version()} lacks what services/scoring/faust_compat.py relies on: "
            f"{', '.join(missing)}. The workarounds were written for faust-streaming 0.15.3 "
            "(docs/decisions.md); check them against this version before running the worker."
        )


def _require(obj: Any, name: str) -> Any:
    """``getattr(obj, name)``, or a clear error naming faust's version."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise FaustIncompatible(
            f"faust-streaming {_faust_version()}: {type(obj).__name__} has no {name!r} (see faust_compat.check_faust)"
        ) from None


# ------------------------------------------------------------------ the transactional producers


class NoTransactionalProducer(RuntimeError):
    """faust has no transactional producer for the partition (it stopped it: the partition was revoked)."""


#: What a partition's transactional producer raises once another producer with its
#: transactional id fenced it: ``ProducerFenced`` from the send or the commit, then
#: ``IllegalOperation`` ("Can't send messages while not in transaction", "Not in the middle of a
#: transaction") from every later call, its transaction being in a fatal state; or there is no
#: producer any more. Dropped only for a partition that moved (:class:`FencedTransactions`).
FENCED_ERRORS: tuple[type[BaseException], ...] = (ProducerFenced, IllegalOperation, NoTransactionalProducer)


def transactional_id_for(app: Any, topic: str, partition: int) -> str:
    """The transactional id faust's TransactionManager gives ``partition``'s producer."""
    return f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"


def producer_for(app: faust.App, topic: str, partition: int):
    """The aiokafka producer (and faust's lock for it) that must carry ``partition``'s records of ``topic``.

    Without transactions: faust's one producer and no lock. With them: the transactional producer
    faust opened for that partition, so records commit with the consumed offsets.
    """
    faust_producer = app.producer
    if not app.in_transaction:
        return _require(faust_producer, "_ensure_producer")(), None
    transactional_id = transactional_id_for(app, topic, partition)
    producer = _require(faust_producer, "_transaction_producers").get(transactional_id)
    if producer is None:
        raise NoTransactionalProducer(
            f"no transactional producer {transactional_id!r}: is partition {partition} assigned here?"
        )
    return producer, _require(faust_producer, "_trn_locks")[transactional_id]


# ------------------------------------------------------------------ seek before resume


class SeekBeforeResume:
    """Holds input partitions faust asks to resume until its seek to the committed offsets is done,
    and seeks never-committed partitions to their earliest offset.

    faust resumes first and seeks after, so records fetched in between were skipped while their
    offsets got committed. Changelog partitions (table recovery) pass straight through.
    """

    def __init__(self, consumer: Any, is_changelog: Callable[[Any], bool]):
        self.consumer = consumer
        self.is_changelog = is_changelog
        self.held: set = set()
        self.committed: dict[tuple[str, int], int | None] = {}
        self._resume = consumer.resume_partitions
        self._seek = consumer.perform_seek
        self._seek_to_committed = consumer.seek_to_committed

    def install(self) -> SeekBeforeResume:
        self.consumer.resume_partitions = self.resume_partitions
        self.consumer.perform_seek = self.perform_seek
        self.consumer.seek_to_committed = self.seek_to_committed  # faust's perform_seek calls it
        return self

    async def seek_to_committed(self):
        """faust's own seek, remembering the committed offsets it found."""
        committed = await self._seek_to_committed()
        self.committed = {(tp.topic, tp.partition): offset for tp, offset in committed.items()}
        return committed

    def resume_partitions(self, tps: Iterable) -> None:
        """Resume changelog partitions now; hold stream partitions until the seek is done."""
        tps = set(tps)
        streams = {tp for tp in tps if not self.is_changelog(tp)}
        self.held |= streams
        if tps - streams:
            self._resume(tps - streams)

    async def perform_seek(self) -> None:
        """Seek while the held partitions are paused, then resume them (also if the seek failed:
        a worker that stops reading them would be worse)."""
        try:
            await self._seek()
            await self._rewind_never_committed(self.held & set(self.consumer.assignment()))
        except BaseException:
            log.warning("seek to committed offsets did not complete; resuming %d partition(s) anyway", len(self.held))
            raise
        finally:
            held, self.held = self.held, set()
            assigned = set(self.consumer.assignment())
            if held & assigned:  # a rebalance in between may have taken some away
                self._resume(held & assigned)

    async def _rewind_never_committed(self, tps: set) -> None:
        never = [tp for tp in tps if (self.committed.get((tp.topic, tp.partition)) or 0) <= 0]
        if never:
            earliest = await self.consumer.earliest_offsets(*never)
            await self.consumer.seek_wait({tp: earliest[tp] for tp in never if earliest.get(tp) is not None})


# ------------------------------------------------------------------ known highwaters


class KnownHighwaters:
    """Asks the broker for changelog highwaters the consumer does not know yet, instead of letting
    recovery read ``None`` as -1 (which crashes it with a ConsistencyError after a broker restart).

    The broker is asked again for up to ``patience`` seconds while it is coming back.
    """

    def __init__(self, thread: Any, patience: float = 60.0, pause: float = 0.5):
        self.thread = thread
        self.patience = patience
        self.pause = pause
        self._highwaters = _require(thread, "_highwaters")

    def install(self) -> KnownHighwaters:
        self.thread._highwaters = self.highwaters
        return self

    async def highwaters(self, partitions) -> dict:
        """faust's highwaters, with the ones the consumer does not know asked from the broker."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                found = dict(await self._highwaters(partitions))
                unknown = [tp for tp in partitions if found.get(tp) is None]
                if unknown:
                    found.update(await _require(self.thread, "_ensure_consumer")().end_offsets(unknown))
                missing = [tp for tp in partitions if found.get(tp) is None]
                if not missing:
                    return found
                problem = f"no end offset for {len(missing)} partition(s)"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker is not ready yet: ask again
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise RuntimeError(f"changelog highwaters still unknown after {self.patience:.0f}s: {problem}")
            log.warning("changelog highwaters not known yet (%s); asking the broker again", problem)
            await asyncio.sleep(self.pause)


# ------------------------------------------------------------------ moved partitions


class ForgetMovedPartitions:
    """Wraps a table's ``on_rebalance``: before faust's handler, ``forget(moved partitions)`` drops
    their local states and recovery's offsets for them are reset, so recovery rebuilds them from
    the committed changelog (a state from an aborted transaction must not outlive it)."""

    def __init__(self, app: Any, table: Any, source_topic: str, forget: Callable[[set[int]], int]):
        self.app = app
        self.table = table
        self.source_topic = source_topic
        self.forget = forget
        self._on_rebalance = table.on_rebalance

    def install(self) -> ForgetMovedPartitions:
        self.table.on_rebalance = self.on_rebalance
        return self

    def moved(self, revoked: Iterable, newly_assigned: Iterable) -> set[int]:
        """Partition numbers of the table (its changelog or its source topic) that moved."""
        topics = {self.table.changelog_topic.get_topic_name(), self.source_topic}
        return {tp.partition for tp in (*revoked, *newly_assigned) if tp.topic in topics}

    async def on_rebalance(self, assigned, revoked, newly_assigned, generation_id: int = 0) -> None:
        moved = self.moved(revoked, newly_assigned)
        if moved:
            dropped = self.forget(moved)
            changelog = self.table.changelog_topic.get_topic_name()
            recovery = self.app.tables.recovery
            for partition in moved:  # recovery must then start those partitions from the changelog's beginning
                recovery.revoke(faust.types.TP(changelog, partition))
            log.info(
                "forgot %d deal state(s) of %d moved partition(s) %s; recovery rebuilds them from the changelog",
                dropped,
                len(moved),
                sorted(moved),
            )
        await self._on_rebalance(assigned, revoked, newly_assigned, generation_id)


# ------------------------------------------------------------------ producers of standby partitions


class StopInactiveProducers:
    """Wraps the TransactionManager's ``on_rebalance``: after faust's handler, every transactional
    producer whose partition is not among this worker's actives is stopped (``stop_transaction``).

    faust stops the producers of revoked partitions, but leaves out any partition that is now
    this worker's *standby* (its ``is_standby`` filter): the producer stays, with its open
    transaction, and the partition's new owner fences it. When the partition becomes active here
    again, faust reuses that fenced producer, and the first batch written through it dies of
    ``ProducerFenced`` although the partition is owned (the scale-out benchmark's dead worker,
    docs/reliability.md). Stopped, the producer is made afresh when the partition is assigned.
    """

    def __init__(self, transactions: Any, app: Any):
        self.transactions = transactions
        self.app = app
        self._on_rebalance = transactions.on_rebalance

    def install(self) -> StopInactiveProducers:
        self.transactions.on_rebalance = self.on_rebalance
        return self

    def inactive(self) -> list[str]:
        """Transactional ids of producers faust holds for partitions that are not active here."""
        active = {transactional_id_for(self.app, tp.topic, tp.partition) for tp in self.app.assignor.assigned_actives()}
        return sorted(set(_require(self.app.producer, "_transaction_producers")) - active)

    async def on_rebalance(self, assigned, revoked, newly_assigned) -> None:
        await self._on_rebalance(assigned, revoked, newly_assigned)
        inactive = self.inactive()
        for transactional_id in inactive:
            await self.app.producer.stop_transaction(transactional_id)
        if inactive:
            log.info(
                "stopped %d transactional producer(s) of partitions no longer active here (standbys): %s",
                len(inactive),
                inactive,
            )


# ------------------------------------------------------------------ errors in recovery


RECOVERY_LOGGER = "faust.tables.recovery"


class RecoveryErrors(logging.Handler):
    """Counts faust's "Error in recovery" as ``pr_scoring_recovery_errors_total``.

    faust catches any exception while applying a changelog record, logs that warning and goes
    on without the record: the table then silently lacks state. Counted here, it makes /readyz
    fail (a restart rebuilds the table) instead of passing unnoticed.
    """

    MARKER = "Error in recovery"

    def __init__(self, registry: CollectorRegistry):
        super().__init__(level=logging.WARNING)
        self.counter = Counter(
            "pr_scoring_recovery_errors_total",
            "Changelog records faust failed to apply during table recovery (its 'Error in recovery').",
            registry=registry,
        )
        self.count = 0
        self.last_error: str | None = None

    def install(self) -> RecoveryErrors:
        logger = logging.getLogger(RECOVERY_LOGGER)
        logger.addHandler(self)
        # faust's own log level must not hide the warning from this handler.
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
        return self

    def uninstall(self) -> None:
        logging.getLogger(RECOVERY_LOGGER).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(self.MARKER):
            self.count += 1
            self.last_error = message[:300]
            self.counter.inc()


# ------------------------------------------------------------------ RocksDB store and transactions


def rocksdb_partition_db(store: Any, partition: int) -> Any:
    """The rocksdict database of one partition of faust's RocksDB store (opened if needed)."""
    return _require(store, "_db_for_partition")(partition)


def _partition_of(transactional_id: str) -> int:
    return int(transactional_id.rsplit("-", 1)[1])  # "{app id}-{group}-{partition}", as faust names it


class FencedTransactions:
    """Decides what a fenced partition transaction costs: its part of the work, or the worker.

    A partition's transaction that was fenced (:data:`FENCED_ERRORS`) is dropped only if
    ``moved(partition)`` says the partition has left this worker or a rebalance is under way:
    Kafka aborts the fenced transaction (states, alerts and offsets together) and the partition
    is folded again from its committed offset, by its new owner or, after faust's seek on
    resume, by this worker. Dropping means: ``forget({partition})`` (the states staged for the
    aborted transaction), and the fenced producer popped from faust's producers and stopped, as
    faust's own ``commit_transaction`` handler does (faust starts a new one when the partition
    is assigned again). Otherwise (say a transaction timeout while still the owner) the caller
    re-raises: skipping the partition's events would lose them, a crash refolds them.

    The fence may come before this worker hears of the rebalance: a worker the group dropped
    (a missed session under load) is fenced by the partition's new owner, and learns it at its
    next heartbeat. So ``moved`` is asked again for up to ``patience`` seconds (the session
    timeout) before the error counts as "still owned"; faust marks the rebalance at once when it
    starts revoking (before it waits for the batch in flight), so the wait cannot hold it up.
    """

    def __init__(
        self,
        app: Any,
        moved: Callable[[int], bool],
        forget: Callable[[set[int]], int],
        patience: float = 0.0,
        pause: float = 0.1,
        describe: Callable[[], str] = lambda: "",
    ):
        """``describe()`` tells the worker's view of the group, logged when a fence is not dropped."""
        self.describe = describe
        self.app = app
        self.moved = moved
        self.forget = forget
        self.patience = patience
        self.pause = pause
        self.drops = 0

    async def _has_moved(self, partition: int, exc: BaseException, where: str) -> bool:
        deadline = time.monotonic() + self.patience
        if self.moved(partition):
            return True
        log.info(
            "partition %d's transaction was fenced (%s) %s while this worker still owns it; waiting up to %.1fs "
            "for the group to show a rebalance",
            partition,
            type(exc).__name__,
            where,
            self.patience,
        )
        while time.monotonic() < deadline:
            await asyncio.sleep(self.pause)
            if self.moved(partition):
                return True
        log.warning(
            "partition %d's transaction was fenced (%s: %s) %s and the partition has not moved after %.1fs "
            "(%s): not dropped, the error is raised (a crash refolds the partition from its committed offset)",
            partition,
            type(exc).__name__,
            exc,
            where,
            self.patience,
            self.describe(),
        )
        return False

    async def dropped(self, transactional_id: str, fenced: Any, exc: BaseException, where: str) -> bool:
        """Drop the fenced transaction of ``transactional_id`` if its partition moved; False if not
        (then the caller must re-raise). ``fenced`` is the producer that raised (or None)."""
        partition = _partition_of(transactional_id)
        if not isinstance(exc, FENCED_ERRORS) or not await self._has_moved(partition, exc, where):
            return False
        states = self.forget({partition})
        producers = _require(self.app.producer, "_transaction_producers")
        if fenced is not None and producers.get(transactional_id) is fenced:
            # The same producer faust holds (not a new one faust made for a new assignment).
            producers.pop(transactional_id)
            try:
                await fenced.stop()
            except Exception as stop_error:  # noqa: BLE001 - a fenced producer may fail to stop cleanly
                log.info("stopping fenced producer %s: %s: %s", transactional_id, type(stop_error).__name__, stop_error)
        self.drops += 1
        log.warning(
            "partition %d's transaction %s was fenced (%s: %s) %s; the partition moved (rebalancing=%s), so its "
            "part is dropped (%d staged state(s) forgotten, no Redis write): Kafka aborts the fenced transaction "
            "and the partition is folded again from its committed offset",
            partition,
            transactional_id,
            type(exc).__name__,
            exc,
            where,
            bool(getattr(self.app, "rebalancing", False)),
            states,
        )
        return True


class CommitHooks:
    """Tells a listener what each partition's transaction became: committed, aborted or stopped.

    faust's ``commit_transactions`` is replaced by the same loop (offsets to the transaction,
    commit, begin the next one, under faust's lock for it) with ``listener.take(partition)``
    just before the commit and ``listener.committed(partition, ...)`` just after it, inside
    the lock, so nothing staged for the next transaction is mistaken for this one's.
    """

    def __init__(
        self, producer: Any, listener: Any = None, fenced: Callable[[], FencedTransactions | None] = lambda: None
    ):
        """``listener`` (the RocksDB committed store) may be None: the memory store stages nothing.
        ``fenced`` gives the worker's :class:`FencedTransactions` (None: a fenced commit raises)."""
        self.producer = producer
        self.listener = listener
        self.fenced = fenced
        self._abort = producer.abort_transaction
        self._stop = producer.stop_transaction

    def install(self) -> CommitHooks:
        self.producer.commit_transactions = self.commit_transactions
        self.producer.abort_transaction = self.abort_transaction
        self.producer.stop_transaction = self.stop_transaction
        return self

    async def commit_transactions(self, tid_to_offset_map, group_id, start_new_transaction: bool = True) -> None:
        producers = _require(self.producer, "_transaction_producers")
        locks = _require(self.producer, "_trn_locks")
        for transactional_id, offsets in tid_to_offset_map.items():
            async with locks[transactional_id]:
                transaction_producer = producers.get(transactional_id)
                if not transaction_producer:
                    log.warning("Commit invoked for unknown transaction %s", transactional_id)
                    continue
                partition = _partition_of(transactional_id)
                try:
                    await transaction_producer.send_offsets_to_transaction(offsets, group_id)
                    # Taken before committing (later stagings belong to the next transaction);
                    # if the commit fails, they go with it.
                    states, offset = self.listener.take(partition) if self.listener is not None else ({}, None)
                    await transaction_producer.commit_transaction()
                except BaseException as exc:
                    if self.listener is not None:
                        self.listener.discard({partition})
                    fenced = self.fenced()
                    if fenced is not None and await fenced.dropped(
                        transactional_id, transaction_producer, exc, "at commit"
                    ):
                        continue  # the other partitions' transactions still commit
                    raise
                if self.listener is not None:
                    self.listener.committed(partition, states, offset)
                if start_new_transaction:
                    await transaction_producer.begin_transaction()

    async def abort_transaction(self, transactional_id: str) -> None:
        try:
            await self._abort(transactional_id)
        finally:
            if self.listener is not None:
                self.listener.discard({_partition_of(transactional_id)})

    async def stop_transaction(self, transactional_id: str) -> None:
        try:
            await self._stop(transactional_id)
        finally:
            if self.listener is not None:
                self.listener.discard({_partition_of(transactional_id)})


def plain_producer(app: faust.App) -> Any:
    """The app's aiokafka producer outside any transaction (for records that must not wait for a commit)."""
    return _require(app.producer, "_ensure_producer")()


def read_offsets(consumer: Any) -> Any:
    """faust's last offset read per partition (``TP -> offset or None``): the consumer lag's other half."""
    return _require(consumer, "_read_offset")


class TransactionTimeout:
    """Gives the transactional producers a Kafka transaction timeout: faust has no option for it.

    faust builds each transactional producer from the app producer's extra settings, so the
    timeout is added to those while the app runs in transactions.
    """

    def __init__(self, producer: Any, app: Any, timeout_ms: int):
        self.producer, self.app, self.timeout_ms = producer, app, timeout_ms
        self.extra = _require(producer, "_settings_extra")

    def install(self) -> TransactionTimeout:
        self.producer._settings_extra = self.settings_extra
        return self

    def settings_extra(self) -> dict[str, Any]:
        extra = dict(self.extra())
        if self.app.in_transaction:
            extra["transaction_timeout_ms"] = self.timeout_ms
        return extra


# ------------------------------------------------------------------ the app


class CompatApp(faust.App):
    """A faust app whose consumer gets :class:`SeekBeforeResume`, :class:`KnownHighwaters` and
    :class:`StopInactiveProducers` as it is built.

    Not by touching ``app.consumer`` in create_app: a consumer built before the worker runs
    fixes ``in_transaction`` to False and the worker would run without transactions.
    """

    #: Told of every transaction's outcome (CommitHooks) when set before the producer is built.
    pr_commit_listener: Any = None
    #: What a fenced transaction of a moved partition costs (set by create_app; CommitHooks reads it).
    pr_fenced: FencedTransactions | None = None
    #: Kafka transaction timeout (ms) of the transactional producers; set by create_app.
    transaction_timeout_ms: int = 60_000

    def _new_producer(self):
        producer = super()._new_producer()
        TransactionTimeout(producer, self, self.transaction_timeout_ms).install()
        # Installed with either store: a fenced commit of a moved partition must not kill the worker.
        CommitHooks(producer, self.pr_commit_listener, fenced=lambda: self.pr_fenced).install()
        return producer

    def _new_consumer(self):
        consumer = super()._new_consumer()
        SeekBeforeResume(consumer, lambda tp: tp.topic in self.tables.changelog_topics).install()
        KnownHighwaters(_require(consumer, "_thread")).install()
        StopInactiveProducers(_require(consumer, "transactions"), self).install()
        return consumer

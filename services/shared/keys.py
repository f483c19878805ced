"""The Redis read-model key layout, in one place for the writer (scoring) and readers.

Layout, with ``p`` the configurable prefix (on a Redis Cluster the hash-tagged ``{prefix}``, see
:func:`hash_tagged`):

- ``p:deal:<deal_id>`` JSON deal card (current state, phase, scores, list item).
- ``p:rank:leader[:<dim>:<value>]`` sorted set of early-phase open deals by leader score.
- ``p:rank:manager:<YYYYQn>[:<dim>:<value>]`` sorted set of open deals closing in that
  quarter, by amount. Bucketing by quarter means the "current quarter" list is chosen at
  read time, so a deal whose close date enters the horizon appears with no new event.
- ``p:rank:stall-due:<partition>`` sorted set deal_id -> when (epoch s) the deal's ``stalled`` alert is
  due, one per deal-events partition, so each scoring worker reads only the due entries of the
  partitions it owns (no scan of every deal). Kept like the rankings (a card's ``_ranks``).
- ``p:rank:stalled[:<dim>:<value>]`` sorted set of stalled open deals (stall alerted, no move since)
  by potential value.
- ``p:rank:flow:<YYYYQn>:<bucket>[:<dim>:<value>]`` sorted set deal_id -> the deal's amount in
  that bucket of the quarter's flow (docs/movement.md), for the current and previous quarter;
  ``p:rank:flow:<YYYYQn>:seen[...]`` holds every deal placed since that quarter began (score 0):
  a deal not in it has not changed since, and counts in start and end through the manager ranking.
- ``p:deleted-deals`` sorted set deal_id -> deletion time (epoch s) of deleted deals whose card
  is still there; the scoring worker sweeps those past the grace period without a scan.
- ``p:scorecards:<YYYYQn>`` hash ``[partition, team, actor]`` (JSON) -> JSON counts: one deal-events
  partition's sums of that scorecard row (services/domain/scorecard.py ``deal_parts``; the worker
  keeps them in its deal table, services/scoring/scorecard_rows.py). Actor ``""`` is the help
  baseline. Review adds an actor's rows over the partitions and the teams in scope.
- ``p:alerts`` stream of alerts (the stream id is the feed cursor).
- ``p:alert-pos`` hash alert_id -> stream id (deduplicates the feed); ``p:alert-acks`` hash
  alert_id -> JSON acknowledgement.
- ``p:stream-token:<sha256>`` JSON principal of a live-stream token, with a TTL of at most 60 s.
- ``p:scoring:synced`` hash deal-events partition -> run id of the Redis server that holds the
  partition's cards (written by the scoring worker; a missing or other run id means lost data).
- ``p:alert-feed:synced`` hash deal-alerts partition -> run id of the Redis server that holds
  the partition's alerts (written by review's alert consumer, the same idea for the feed).
- ``p:webhooks:subs``, ``p:webhooks:stats:<id>``, ``p:webhooks:dead:<id>``, ``p:webhooks:jobs``,
  ``p:webhooks:due``, ``p:webhooks:inflight``: review's outgoing webhooks (subscriptions, their
  counters and dead letters, and the delivery jobs with when each is due or leased).
"""

from __future__ import annotations

from dataclasses import dataclass

# The list filters: a dimension of the rank keys (``p:rank:leader:team:East``) -> the deal field it reads.
FILTER_FIELDS = {"team": "team", "owner": "owner_id", "manager": "manager_id"}


def has_hash_tag(prefix: str) -> bool:
    """True when Redis Cluster hashes every key starting with ``prefix`` by a tag inside the prefix.

    Redis hashes the part between the first ``{`` and the first ``}`` after it, when that part is
    not empty; otherwise the whole key.
    """
    opening = prefix.find("{")
    closing = prefix.find("}", opening + 1) if opening >= 0 else -1
    return closing > opening + 1


def hash_tagged(prefix: str) -> str:
    """The prefix as a Redis Cluster hash tag, so every key of the layout maps to one slot.

    The lists, the alert feed and the webhooks use multi-key transactions and Lua scripts, which a
    cluster only runs on keys of one slot. A prefix that already carries a tag (``app{pr}``) is kept.
    """
    if has_hash_tag(prefix):
        return prefix
    tagged = "{" + prefix + "}"
    if not has_hash_tag(tagged):  # empty, or starting with "}": "{}..." hashes the whole key
        raise ValueError(f"the Redis prefix {prefix!r} cannot be made a hash tag: give one such as {{pr}}")
    return tagged


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "pr"

    def deal(self, deal_id: str) -> str:
        return f"{self.prefix}:deal:{deal_id}"

    def deal_pattern(self) -> str:
        return f"{self.prefix}:deal:*"

    def leader_rank(self, dimension: str | None = None, value: str | None = None) -> str:
        return self._with_filter(f"{self.prefix}:rank:leader", dimension, value)

    def manager_rank(self, quarter: str, dimension: str | None = None, value: str | None = None) -> str:
        return self._with_filter(f"{self.prefix}:rank:manager:{quarter}", dimension, value)

    def stalled_rank(self, dimension: str | None = None, value: str | None = None) -> str:
        return self._with_filter(f"{self.prefix}:rank:stalled", dimension, value)

    def flow(self, quarter: str, bucket: str, dimension: str | None = None, value: str | None = None) -> str:
        """A quarter's flow bucket (or ``seen``): deal_id -> the deal's amount in it."""
        return self._with_filter(f"{self.prefix}:rank:flow:{quarter}:{bucket}", dimension, value)

    def stall_due(self, partition: int) -> str:
        """Sorted set deal_id -> due time (epoch s) of the stalled alerts of one deal-events partition."""
        return f"{self.prefix}:rank:stall-due:{partition}"

    def deleted_deals(self) -> str:
        """Sorted set deal_id -> deletion time (epoch s): the cards awaiting removal."""
        return f"{self.prefix}:deleted-deals"

    def scorecards(self, quarter: str) -> str:
        """Hash [partition, team, actor] -> JSON counts: the quarter's scorecard rows, per partition."""
        return f"{self.prefix}:scorecards:{quarter}"

    def scorecards_pattern(self) -> str:
        return f"{self.prefix}:scorecards:*"

    def alert_decisions(self) -> str:
        """Hash alert_id -> JSON of the latest discount decision (review writes it once Kafka acknowledged)."""
        return f"{self.prefix}:alert-decisions"

    def rank_pattern(self) -> str:
        return f"{self.prefix}:rank:*"

    def alerts_stream(self) -> str:
        return f"{self.prefix}:alerts"

    def alert_positions(self) -> str:
        """Hash alert_id -> stream id, so ``?after=<alert_id>`` can be resolved."""
        return f"{self.prefix}:alert-pos"

    def alert_acks(self) -> str:
        """Hash alert_id -> JSON ``{"by", "at"}`` of the first acknowledgement."""
        return f"{self.prefix}:alert-acks"

    def stream_token(self, digest: str) -> str:
        """A live-stream token's principal, by the token's SHA-256 (the token itself is never stored)."""
        return f"{self.prefix}:stream-token:{digest}"

    def scoring_synced(self) -> str:
        """Hash partition -> Redis run id, the scoring worker's marks (see scoring/read_model_guard.py)."""
        return f"{self.prefix}:scoring:synced"

    def alert_feed_synced(self) -> str:
        """Hash partition -> Redis run id, review's alert-feed marks (see review/alert_feed.py)."""
        return f"{self.prefix}:alert-feed:synced"

    # -- outgoing webhooks (review) --------------------------------------------------------

    def webhook_subscriptions(self) -> str:
        """Hash id -> subscription JSON (the secret included)."""
        return f"{self.prefix}:webhooks:subs"

    def webhook_stats(self, subscription_id: str) -> str:
        """Hash of a subscription's delivery counters and last outcome."""
        return f"{self.prefix}:webhooks:stats:{subscription_id}"

    def webhook_dead_letters(self, subscription_id: str) -> str:
        """Stream of a subscription's dead letters (newest last, capped)."""
        return f"{self.prefix}:webhooks:dead:{subscription_id}"

    def webhook_jobs(self) -> str:
        """Hash job id -> pending delivery job JSON."""
        return f"{self.prefix}:webhooks:jobs"

    def webhook_due(self) -> str:
        """Sorted set job id -> when the job's next attempt is due (unix s)."""
        return f"{self.prefix}:webhooks:due"

    def webhook_inflight(self) -> str:
        """Sorted set job id -> lease deadline of the attempt under way."""
        return f"{self.prefix}:webhooks:inflight"

    @staticmethod
    def filter_suffix(dimension: str, value: str | None) -> str:
        """What a filter adds to a ranking's key (``leader_rank(d, v) == leader_rank() + filter_suffix(d, v)``)."""
        if dimension not in FILTER_FIELDS:
            raise ValueError(f"unknown filter dimension {dimension!r}")
        return f":{dimension}:{value}"

    @classmethod
    def _with_filter(cls, base: str, dimension: str | None, value: str | None) -> str:
        if dimension is None:
            return base
        return base + cls.filter_suffix(dimension, value)

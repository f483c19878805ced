"""Outgoing webhooks for alerts: subscriptions, signatures and the delivery service.

The package has layers, kept apart so the rules can be tested without I/O:

1. :mod:`.rules` (pure): the subscription filter, the request bodies (JSON and Slack), the
   signature (``sign``, ``verify_signature``) and the retry schedule; :mod:`.guard` (pure but for
   DNS) refuses URLs and connections that reach non-public addresses;
2. :mod:`.store`: subscriptions, delivery stats and dead letters in Redis (the ``webhook_*`` keys of ``RedisKeys``);
3. :mod:`.dispatcher`: the background service. It reads the alert stream
   (``<prefix>:alerts``) through a consumer group, turns every (alert, matching
   subscription) pair into a delivery job in a Redis sorted set of due jobs, and
   delivers due jobs with bounded concurrency. A failed attempt is rescheduled in that
   set, so retries never hold up other deliveries, and every review instance can take
   any job. After the last attempt the job becomes a dead letter;
4. :mod:`.api`: the HTTP routes (subscribe, list, inspect, unsubscribe, dead letters);
   :mod:`.settings`: ``PR_REVIEW_WEBHOOK_*``.

Delivery is at least once: receivers deduplicate on ``X-PipelineReview-Alert-Id``.
"""

from .api import add_webhook_routes
from .dispatcher import WebhookDispatcher
from .settings import WebhookSettings
from .store import WebhookStore

__all__ = ["WebhookDispatcher", "WebhookSettings", "WebhookStore", "add_webhook_routes"]

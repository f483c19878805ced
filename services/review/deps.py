"""FastAPI dependencies of the review routes: the caller and the app's wired services.

``create_app`` builds each service once and puts it on ``app.state``; routes ask for them here,
so a router module needs no closure over ``create_app`` and a test can wire its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.shared.keys import RedisKeys

from .access import Principal, principal_of
from .alert_feed import AlertIngestor, AlertStore
from .lists import Clock as ClockFunction
from .lists import ListReader
from .metrics import Metrics
from .settings import ReviewSettings
from .stream_tokens import StreamTokens
from .streams import AlertHub


def current_principal(connection: HTTPConnection) -> Principal:
    """The caller the access middleware resolved; 401 when there is none."""
    return principal_of(connection)


def _state(name: str):
    def provide(connection: HTTPConnection):
        return getattr(connection.app.state, name)

    provide.__name__ = f"app_state_{name}"
    return provide


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Settings = Annotated[ReviewSettings, Depends(_state("settings"))]
Lists = Annotated[ListReader, Depends(_state("lists"))]
Store = Annotated[AlertStore, Depends(_state("alert_store"))]
Hub = Annotated[AlertHub, Depends(_state("alert_hub"))]
Ingestor = Annotated[AlertIngestor | None, Depends(_state("alert_ingestor"))]
Tokens = Annotated[StreamTokens, Depends(_state("stream_tokens"))]
ReviewMetrics = Annotated[Metrics, Depends(_state("metrics"))]
Clock = Annotated[ClockFunction, Depends(_state("clock"))]
Redis = Annotated[Any, Depends(_state("redis"))]
Producer = Annotated[Any, Depends(_state("producer"))]  # services.shared.producer.EventProducer
ReadModelKeys = Annotated[RedisKeys, Depends(_state("redis_keys"))]

"""Fixtures for the webhook tests: an isolated Redis prefix, a real receiver on 127.0.0.1, dispatchers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.review.webhooks import WebhookDispatcher, WebhookSettings, WebhookStore
from services.shared.keys import RedisKeys
from testkit.processes import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float
    answered: float | None = None

    def json(self):
        return json.loads(self.body)


@dataclass
class Behaviour:
    """How one receiver path answers: ``statuses`` in order (then 200 forever), after ``delay`` seconds."""

    statuses: list[int] = field(default_factory=list)
    always: int | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # bytes as sent, e.g. UTF-8
    body: bytes = b""


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request per path."""

    def __init__(self):
        self.port = free_port()
        self.requests: list[Received] = []
        self.behaviour: dict[str, Behaviour] = {}
        app = Starlette(routes=[Route("/hook/{name}", self._hook, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", access_log=False)
        )
        self.task: asyncio.Task | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def at(self, name: str) -> list[Received]:
        return [r for r in self.requests if r.path == name]

    async def _hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        got = Received(name, {k.lower(): v for k, v in request.headers.items()}, await request.body(), time.monotonic())
        self.requests.append(got)
        how = self.behaviour.get(name, Behaviour())
        if how.delay:
            await asyncio.sleep(how.delay)
        status = how.always or (how.statuses.pop(0) if how.statuses else 200)
        got.answered = time.monotonic()
        response = Response(how.body, status_code=status, headers=how.headers if status >= 300 else None)
        response.raw_headers.extend(how.raw_headers)
        return response

    async def start(self) -> Receiver:
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            assert not self.task.done(), "receiver exited"
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def receiver():
    rec = await Receiver().start()
    yield rec
    await rec.stop()


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(f"t{uuid.uuid4().hex[:8]}")
    yield client, keys
    async for key in client.scan_iter(f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


LOOPBACK = "127.0.0.0/8"  # the receivers listen on 127.0.0.1, which webhooks refuse unless admitted


def fast_settings(**over) -> WebhookSettings:
    """Short timeouts and backoff so retries happen within a test; loopback admitted."""
    values = dict(
        enabled=True,
        max_attempts=3,
        backoff_base=0.2,
        backoff_max=1.0,
        timeout=2.0,
        concurrency=8,
        consumer_group="webhooks",
        claim_idle=30.0,
        poll_interval=0.1,
        allow_nets=LOOPBACK,
    )
    return WebhookSettings(**(values | over))


@pytest.fixture
async def dispatchers(redis):
    """``start(**settings)`` starts a dispatcher; all are stopped at the end."""
    client, keys = redis
    started: list[WebhookDispatcher] = []

    async def start(settings: WebhookSettings | None = None, **kwargs) -> WebhookDispatcher:
        dispatcher = WebhookDispatcher(client, keys, settings or fast_settings(), **kwargs)
        await dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        await dispatcher.stop()


@pytest.fixture
def store(redis) -> WebhookStore:
    client, keys = redis
    return WebhookStore(client, keys)

"""Finding source adapters: the built-in three, and plug-ins published as entry points.

A plug-in package declares, in its ``pyproject.toml``::

    [project.entry-points."pipeline_review.sources"]
    mycrm = "mycrm_adapter:make_adapter"

where ``make_adapter(stage_map) -> SourceAdapter`` builds an adapter whose ``name`` is
the entry point's name (``POST /v1/sources/mycrm``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from services.shared.events import SOURCE_NAME
from services.shared.stages import StageMap

from .base import SourceAdapter, SourceAuth
from .hubspot import HubSpotWebhookAdapter
from .pipedrive import PipedriveWebhookAdapter
from .salesforce import SalesforceCDCAdapter

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "pipeline_review.sources"
BUILTIN_ADAPTERS: dict[str, type[SourceAdapter]] = {
    "salesforce": SalesforceCDCAdapter,
    "hubspot": HubSpotWebhookAdapter,
    "pipedrive": PipedriveWebhookAdapter,
}
RESERVED_NAMES = frozenset({"api", "csv", *BUILTIN_ADAPTERS})

AdapterFactory = Callable[[StageMap], SourceAdapter]


class PluginError(RuntimeError):
    """A source plug-in cannot be loaded or has an unusable name."""


def builtin_adapters(
    stage_map: StageMap,
    *,
    enabled: tuple[str, ...] | list[str] | None = None,
    **config: Mapping[str, Any] | None,
) -> dict[str, SourceAdapter]:
    """Build the built-in adapters, keyed by route name.

    ``config`` holds one mapping of constructor keyword arguments per adapter name, e.g.
    ``builtin_adapters(stage_map, hubspot={"client_secret": "..."},
    pipedrive={"user": "u", "password": "p"})``. ``enabled`` limits which are built
    (default: all three). An unknown adapter name raises ``TypeError``.
    """
    unknown = sorted(set(config) - set(BUILTIN_ADAPTERS))
    if unknown:
        raise TypeError(f"unknown built-in source(s): {', '.join(unknown)} (known: {', '.join(BUILTIN_ADAPTERS)})")
    names = list(BUILTIN_ADAPTERS) if enabled is None else list(enabled)
    adapters: dict[str, SourceAdapter] = {}
    for name in names:
        if name not in BUILTIN_ADAPTERS:
            raise TypeError(f"unknown built-in source {name!r} (known: {', '.join(BUILTIN_ADAPTERS)})")
        kwargs = dict(config.get(name) or {})
        adapters[name] = BUILTIN_ADAPTERS[name](stage_map=stage_map, **kwargs)  # type: ignore[call-arg]  # every built-in takes stage_map; the base declares no constructor
    return adapters


def load_plugins(group: str = ENTRY_POINT_GROUP) -> dict[str, AdapterFactory]:
    """Load the adapter factories installed under the entry point ``group``, keyed by name.

    Raises :class:`PluginError` when a plug-in cannot be imported, is not callable, has a
    name that is not a valid source name, or takes a built-in's name -- a broken plug-in
    should stop the service at start-up rather than drop its events later.
    """
    factories: dict[str, AdapterFactory] = {}
    for ep in entry_points(group=group):
        if not SOURCE_NAME.match(ep.name):
            raise PluginError(f"source plug-in {ep.name!r} ({ep.value}): name must match {SOURCE_NAME.pattern}")
        if ep.name in RESERVED_NAMES:
            raise PluginError(f"source plug-in {ep.name!r} ({ep.value}) takes the name of a built-in source")
        if ep.name in factories:
            raise PluginError(f"source plug-in {ep.name!r} is installed twice")
        try:
            factory = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is a plug-in failure
            raise PluginError(f"source plug-in {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        if not callable(factory):
            raise PluginError(f"source plug-in {ep.name!r} ({ep.value}) is not callable")
        log.info("source plug-in %s loaded from %s", ep.name, ep.value)
        factories[ep.name] = factory
    return factories


def make_plugin_adapters(
    factories: Mapping[str, AdapterFactory], stage_map: StageMap, *, open_mode: bool = False
) -> dict[str, SourceAdapter]:
    """Call each plug-in factory with the stage map; checks each adapter's ``name`` and ``auth``.

    A plug-in that declares no authentication (``auth`` is not a :class:`SourceAuth`) is
    refused, except when ingest runs open, where it is loaded with a warning.
    """
    adapters: dict[str, SourceAdapter] = {}
    for name, factory in factories.items():
        adapter = factory(stage_map)
        if getattr(adapter, "name", None) != name or not callable(getattr(adapter, "map", None)):
            raise PluginError(f"source plug-in {name!r} must return an adapter with name={name!r} and a map() method")
        if not isinstance(getattr(adapter, "auth", None), SourceAuth):
            if not open_mode:
                raise PluginError(
                    f"source plug-in {name!r} declares no authentication: set its adapter's auth to a SourceAuth "
                    f"and implement authenticate() (it loads without one only when ingest runs open)"
                )
            log.warning("source plug-in %s declares no authentication; loaded because ingest runs open", name)
        adapters[name] = adapter
    return adapters

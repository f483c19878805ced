"""Registry (built-ins, entry-point plug-ins) and the shared adapter helpers."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import EntryPoint

import pytest

from services.ingest.sources import registry
from services.ingest.sources.base import (
    MappingResult,
    PayloadError,
    SourceAdapter,
    SourceAuth,
    ascii_integer,
    choose_type,
    parse_date,
    parse_timestamp,
    source_id,
)
from services.ingest.sources.hubspot import HubSpotWebhookAdapter
from services.shared.events import EventType

pytestmark = pytest.mark.unit


class EchoAdapter(SourceAdapter):
    name = "echo"
    auth = SourceAuth("bearer", ("ECHO_TOKEN",), configured=True)

    def map(self, payload, received_at):
        return MappingResult()


class UnguardedAdapter(SourceAdapter):
    """A plug-in that declares no authentication."""

    name = "unguarded"

    def map(self, payload, received_at):
        return MappingResult()


def make_echo(stage_map):
    return EchoAdapter()


def make_misnamed(stage_map):
    return HubSpotWebhookAdapter(stage_map=stage_map)


NOT_CALLABLE = 42


def _entry_points(monkeypatch, *eps: EntryPoint) -> None:
    def fake(group=None):
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(registry, "entry_points", fake)


def _ep(name: str, value: str, group: str = registry.ENTRY_POINT_GROUP) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


def test_builtin_adapters_all_three_with_config(stage_map):
    adapters = registry.builtin_adapters(
        stage_map, hubspot={"client_secret": "s"}, pipedrive={"user": "u", "password": "p"}
    )
    assert sorted(adapters) == ["hubspot", "pipedrive", "salesforce"]
    assert all(name == adapter.name for name, adapter in adapters.items())
    assert adapters["hubspot"].client_secret == "s"
    assert adapters["pipedrive"].user == "u"


def test_builtin_adapters_enabled_subset_and_unknown_names(stage_map):
    assert list(registry.builtin_adapters(stage_map, enabled=["pipedrive"])) == ["pipedrive"]
    with pytest.raises(TypeError, match="zoho"):
        registry.builtin_adapters(stage_map, zoho={})
    with pytest.raises(TypeError, match="zoho"):
        registry.builtin_adapters(stage_map, enabled=["zoho"])
    with pytest.raises(TypeError):
        registry.builtin_adapters(stage_map, hubspot={"no_such_option": 1})


def test_load_plugins_from_entry_points(monkeypatch, stage_map):
    here = __name__
    _entry_points(
        monkeypatch,
        _ep("echo", f"{here}:make_echo"),
        _ep("other", f"{here}:make_echo", group="something.else"),
    )
    factories = registry.load_plugins()
    assert list(factories) == ["echo"]
    adapters = registry.make_plugin_adapters(factories, stage_map)
    assert isinstance(adapters["echo"], EchoAdapter)
    assert registry.load_plugins("something.else").keys() == {"other"}


@pytest.mark.parametrize(
    "ep, message",
    [
        (_ep("Bad Name", "x:y"), "name must match"),
        (_ep("hubspot", "x:y"), "built-in"),
        (_ep("csv", "x:y"), "built-in"),
        (_ep("ghost", "no_such_module_for_tests:make"), "failed to load"),
        (_ep("num", f"{__name__}:NOT_CALLABLE"), "not callable"),
    ],
)
def test_broken_plugins_fail_loudly(monkeypatch, ep, message):
    _entry_points(monkeypatch, ep)
    with pytest.raises(registry.PluginError, match=message):
        registry.load_plugins()


def test_plugin_must_return_an_adapter_with_its_name(stage_map):
    with pytest.raises(registry.PluginError, match="name='mine'"):
        registry.make_plugin_adapters({"mine": make_misnamed}, stage_map)


def test_a_plugin_without_authentication_is_refused_unless_ingest_runs_open(stage_map):
    factories = {"unguarded": lambda _stages: UnguardedAdapter()}
    with pytest.raises(registry.PluginError, match="'unguarded' declares no authentication"):
        registry.make_plugin_adapters(factories, stage_map)
    adapters = registry.make_plugin_adapters(factories, stage_map, open_mode=True)
    assert isinstance(adapters["unguarded"], UnguardedAdapter)


def test_builtin_adapters_declare_their_auth_and_the_setting_holding_it(stage_map):
    unset = registry.builtin_adapters(stage_map)
    assert {name: (a.auth.variables, a.auth.configured) for name, a in unset.items()} == {
        "salesforce": (("PR_INGEST_SALESFORCE_TOKEN",), False),
        "hubspot": (("PR_INGEST_HUBSPOT_CLIENT_SECRET",), False),
        "pipedrive": (("PR_INGEST_PIPEDRIVE_USER", "PR_INGEST_PIPEDRIVE_PASSWORD"), False),
    }
    configured = registry.builtin_adapters(
        stage_map,
        salesforce={"token": "t" * 16},
        hubspot={"client_secret": "s"},
        pipedrive={"user": "u", "password": "p"},
    )
    assert all(a.auth.configured for a in configured.values())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("42", 42),
        (" -7 ", -7),
        ("+3", 3),
        ("²", None),
        ("١٢", None),
        ("1_000", None),
        ("", None),
        ("-", None),
        ("1" * 4301, None),
        ("4.5", None),
    ],
)
def test_ascii_integer_takes_ascii_digits_only(text, expected):
    assert ascii_integer(text) == expected


@pytest.mark.parametrize(
    "value, unit, problem",
    [
        (10**400, "auto", "out of range"),  # int / int overflows a float
        (str(10**400), "ms", "out of range"),
        (10**20, "s", "out of range"),  # past year 9999
        ("²", "auto", "not an ISO 8601"),  # "²".isdigit() is true, int("²") raises
        ("0001-01-01T00:00:00+01:00", "auto", "converted to UTC"),  # before datetime.min in UTC
        ("9999-12-31T23:59:59-01:00", "auto", "converted to UTC"),  # after datetime.max in UTC
    ],
)
def test_hostile_timestamps_are_payload_errors_naming_the_field(value, unit, problem):
    with pytest.raises(PayloadError, match=problem) as raised:
        parse_timestamp(value, "header.commitTimestamp", epoch_unit=unit)
    assert raised.value.field == "header.commitTimestamp"


def test_no_plugins_installed_by_default():
    assert registry.load_plugins("pipeline_review.sources.none_here") == {}


# ------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-20T09:30:00Z", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-20T10:30:00+01:00", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-20T09:30:00", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        (1795167000, dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        (1795167000000, dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        ("1795167000000", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        (1795167000000000, dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value, "t") == expected


@pytest.mark.parametrize("value", [None, "", "noon", True, float("nan"), [1], 10**30])
def test_parse_timestamp_rejects(value):
    with pytest.raises(PayloadError) as info:
        parse_timestamp(value, "a.b")
    assert info.value.field == "a.b"


def test_parse_date_forms():
    assert parse_date("2027-03-31", "d") == dt.date(2027, 3, 31)
    assert parse_date("2027-03-31T23:00:00Z", "d") == dt.date(2027, 3, 31)
    assert parse_date(1743379200000, "d") == dt.date(2025, 3, 31)
    assert parse_date(20089, "d") == dt.date(2025, 1, 1)
    assert parse_date("", "d") is None and parse_date(None, "d") is None
    with pytest.raises(PayloadError):
        parse_date("2027-13-01", "d")


def test_source_id_forms():
    assert source_id(42, "i") == source_id("42", "i") == source_id(42.0, "i") == "42"
    for bad in (None, True, 4.5, "", " ", {}):
        with pytest.raises(PayloadError):
            source_id(bad, "i")


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"stage": "Closed Won", "discount_pct": 10}, EventType.CLOSED_WON),
        ({"stage": "closedlost"}, EventType.CLOSED_LOST),
        ({"stage": "Negotiation/Review", "discount_pct": 10}, EventType.DISCOUNT_REQUESTED),
        ({"stage": "Negotiation/Review"}, EventType.STAGE_CHANGED),
        ({"stage": None}, EventType.STAGE_CHANGED),
        ({"discount_pct": 0}, EventType.UPDATED),
        ({"amount": 5}, EventType.UPDATED),
        ({}, EventType.UPDATED),
    ],
)
def test_choose_type(stage_map, changes, expected):
    assert choose_type(changes, stage_map, "salesforce") is expected

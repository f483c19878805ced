"""The AsyncAPI document: valid AsyncAPI 3.0.0, true to the pydantic models and to the records the services write."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from services.domain import movement
from services.domain.alerts import discount_alert
from services.domain.state import apply_event, fold
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.source_routes import dead_letter_record
from services.ingest.sources.base import DeadLetter
from services.shared.alerts import Alert
from services.shared.asyncapi import asyncapi_document
from services.shared.events import DealEvent, encode_event
from services.shared.records import DeadLetterRecord
from services.shared.settings import DEFAULT_STAGE_MAP, CommonSettings
from services.shared.stages import StageMap
from services.shared.topics import topic_specs
from tests.helpers import event
from tests.unit.test_ingest_auth import LOADER, FakeProducer

pytestmark = pytest.mark.unit
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "fixtures/asyncapi/3.0.0.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)


def errors(document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def payload_validator(document: dict, model: str):
    """A validator of one message payload, its $refs resolved inside the document."""
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{model}", "components": document["components"]})


def test_ingest_serves_the_document_publicly_with_its_own_topic_names():
    common = CommonSettings(topic_prefix="prod-", deal_event_partitions=12)
    app = TestClient(create_app(IngestSettings(api_keys=LOADER, common=common), FakeProducer()))
    assert app.get("/v1/events").status_code == 405 and app.post("/v1/events", json={}).status_code == 401
    answer = app.get("/asyncapi.json")  # no key, like /openapi.json
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document == json.loads(json.dumps(asyncapi_document("prod-", 12)))
    specs = {s.name: s for s in topic_specs("prod-", 12)}
    channels = document["channels"]
    assert (
        {c["address"] for c in channels.values()}
        == set(specs)
        == {"prod-deal-events", "prod-deal-alerts", "prod-deal-events-dlq"}
    )
    for channel in channels.values():
        assert channel["bindings"]["kafka"]["partitions"] == specs[channel["address"]].partitions
    assert "/asyncapi.json" in app.get("/openapi.json").json()["paths"]


def test_the_document_is_valid_asyncapi_3():
    document = json.loads(json.dumps(asyncapi_document()))
    assert document["asyncapi"] == "3.0.0"
    assert errors(document) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d.update(asyncapi="2.6.0"),
        lambda d: d["info"].pop("title"),
        lambda d: d["operations"]["scoringRaisesDealAlerts"].update(action="publish"),  # AsyncAPI 2 wording
        lambda d: d["channels"]["dealEvents"].update(publish={}),
        lambda d: d["components"]["messages"]["DealEvent"].update(contentType=7),
        lambda d: d["components"]["schemas"]["DealEvent"].update(type=5),
    ],
)
def test_the_official_schema_refuses_a_broken_document(break_it):
    """The check means something: the schema catches mistakes in each part of the document."""
    document = copy.deepcopy(json.loads(json.dumps(asyncapi_document())))
    break_it(document)
    assert errors(document)


def test_payload_schemas_are_the_models_schemas():
    schemas = asyncapi_document()["components"]["schemas"]
    for model in (DealEvent, Alert, DeadLetterRecord):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, nested in generated.pop("$defs", {}).items():
            assert schemas[name] == nested
        assert schemas[model.__name__] == generated
    for operation in asyncapi_document()["operations"].values():
        channel_id = operation["channel"]["$ref"].rsplit("/", 1)[1]
        assert operation["messages"][0]["$ref"].startswith(f"#/channels/{channel_id}/messages/")


def test_the_records_the_services_write_match_the_document():
    document = json.loads(json.dumps(asyncapi_document()))
    stage_map = StageMap.load(DEFAULT_STAGE_MAP)
    created = event("api:d1", "deal.created", 0, name="D", team="East", stage="Negotiation/Review", amount=50_000)
    requested = event("api:d1", "deal.discount_requested", 5, discount_pct=12.5, requested_by="u1")
    alerts = []
    for changes in ({"stage": "Negotiation/Review"}, {"stage": "Prospecting"}):
        state = apply_event(
            None, event("api:d1", "deal.created", 0, name="D", amount=50_000, **changes), stage_map
        ).state
        state = apply_event(state, requested, stage_map).state
        alerts.append(json.loads(discount_alert(requested, state, stage_map).record()))  # the wire record
    alerts.extend(
        json.loads(Alert(**alert).record()) for alert in movement_alerts(stage_map)
    )  # as the worker sends them
    assert {a["kind"] for a in alerts} == {
        "late_stage_discount",
        "discount_info",
        "close_date_pushed",
        "qualification_gap",
        "stalled",
    }
    letter = json.loads(
        dead_letter_record(
            "hubspot", DeadLetter("objectId: missing", {"x": [1]}), dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
        )
    )
    wire_event = json.loads(encode_event(created))
    for model, records in ((Alert, alerts), (DeadLetterRecord, [letter]), (DealEvent, [wire_event])):
        validator = payload_validator(document, model.__name__)
        for record in records:
            assert list(validator.iter_errors(record)) == [], (model.__name__, record)
            model.model_validate(record)
            # Every field the producer writes is described, not only allowed by extra="allow".
            assert set(record) <= set(model.model_fields), set(record) - set(model.model_fields)
        for example in document["components"]["messages"][model.__name__]["examples"]:
            assert list(validator.iter_errors(example["payload"])) == []
    assert not payload_validator(document, "DealEvent").is_valid(wire_event | {"type": "deal.exploded"})


def movement_alerts(stage_map: StageMap) -> list[dict]:
    """One alert of each pipeline-movement kind, from the rules in services/domain/movement.py."""

    def at(day: str) -> dt.datetime:
        return dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=dt.UTC)

    created = event(
        "api:m1",
        "deal.created",
        at("2026-10-01"),
        name="M",
        stage="Prospecting",
        amount=80_000,
        close_date="2026-12-15",
        potential_value=300_000,
    )
    pushed = event("api:m1", "deal.updated", at("2026-10-10"), close_date="2027-01-20")
    state = fold([created, pushed], stage_map)
    alerts = [
        movement.close_date_pushed_alert(pushed, state, stage_map),
        movement.stalled_alert(state, stage_map, at("2026-11-30")),
    ]
    late = event("api:m1", "deal.stage_changed", at("2026-11-02"), stage="Negotiation/Review")
    alerts.append(movement.qualification_gap_alert(late, fold([created, pushed, late], stage_map), stage_map))
    assert all(alert is not None for alert in alerts)
    return alerts

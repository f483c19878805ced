import pytest

from services.ingest.csv_import.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config

pytestmark = pytest.mark.unit


def minimal(**extra) -> dict:
    return {"columns": {"id": "id", "stage": "stage"}, "stages": {"open": ["New"], "won": ["Won"]}} | extra


def test_the_default_map_is_the_maven_one():
    config = load_config()
    assert config.columns["id"] == "opportunity_id"
    assert config.columns["amount"] == "close_value"
    assert config.open_stages == ("Prospecting", "Engaging")
    assert config.joins["teams"].fields == {"manager_id": "manager", "team": "regional_office"}
    assert config.joins["products"].fields == {"list_price": "sales_price"}
    assert config.currency == "USD"
    assert config.qualification_level("engaging") > config.qualification_level("Prospecting") > 0


def test_a_minimal_map_gets_defaults():
    config = parse_config(minimal())
    assert config.name_templates == ("{id}",)
    assert config.joins == {}
    assert config.lost_stages == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"columns": {"stage": "s"}, "stages": {"open": ["A"]}}, "columns.id is required"),
        (minimal(columns={"id": "id", "stage": "s", "colour": "c"}), "columns.colour: unknown field"),
        ({"columns": {"id": "id", "stage": "s"}, "stages": {"open": []}}, "stages.open needs at least one stage"),
        (minimal(stages={"open": ["A"], "won": ["a"]}), "listed twice"),
        (minimal(name={"templates": ["{nope}"]}), "plain placeholders"),
        (minimal(currency="usd"), "three-letter"),
        (minimal(joins={"t": {"file": "t.csv", "on": "a", "key": "a"}}), "joins.t.fields is required"),
        (minimal(joins={"t": {"file": "t", "on": "a", "key": "a", "fields": {"stage": "x"}}}), "joins.t.fields.stage"),
        (minimal(synthetic={"qualification": {"Won": 0.5}}), "not an open stage"),
        (minimal(synthetic={"qualification": {"New": 2}}), "from 0 to 1"),
        (minimal(synthetic={"default_cycle_days": 0}), "positive whole number"),
    ],
)
def test_bad_maps_say_what_is_wrong(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, origin="my.toml")


def test_a_join_and_a_column_cannot_feed_the_same_field():
    raw = minimal(
        columns={"id": "id", "stage": "s", "team": "region"},
        joins={"t": {"file": "t.csv", "on": "a", "key": "a", "fields": {"team": "office"}}},
    )
    with pytest.raises(ConfigError, match="team is fed both"):
        parse_config(raw)


def test_an_unreadable_file_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns\n")
    with pytest.raises(ConfigError, match="cannot read column map"):
        load_config(bad)
    assert DEFAULT_CONFIG.is_file()

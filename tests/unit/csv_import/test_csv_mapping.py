import collections
import datetime as dt

import pytest

from services.ingest.csv_import.config import ConfigError
from services.ingest.csv_import.mapping import (
    Outcome,
    build_lookup,
    check_header,
    map_rows,
    normalise_key,
)
from tests.unit.csv_import.csv_import_samples import PRODUCTS, SAMPLE_ROWS, row

pytestmark = pytest.mark.unit


def numbered(*rows):
    return [(n, row(values)) for n, values in enumerate(rows, start=2)]


def test_a_won_row_maps_every_column(config, lookups):
    result = map_rows(numbered(SAMPLE_ROWS[0]), config, lookups)
    assert result.rejected == []
    deal = result.deals[0]
    assert deal.source_id == "1C1I7A6R"
    assert deal.row == 2
    assert (deal.stage, deal.outcome) == ("Won", Outcome.WON)
    assert deal.name == "GTX Basic for Cancity"
    assert (deal.owner_id, deal.owner_name) == ("Moses Frase", "Moses Frase")
    assert (deal.team, deal.manager_id) == ("Central", "Dustin Brinkmann")
    assert deal.engage_date == dt.date(2016, 10, 20)
    assert deal.close_date == dt.date(2017, 3, 1)
    assert (deal.amount, deal.list_price, deal.booked_amount) == (540, 550, 540)


def test_gtxpro_joins_gtx_pro_and_a_lost_deal_keeps_its_list_price(config, lookups):
    deal = map_rows(numbered(SAMPLE_ROWS[1]), config, lookups).deals[0]
    assert deal.list_price == 4821
    assert deal.outcome is Outcome.LOST
    assert deal.booked_amount == 4821  # the recorded 0 is what was booked, not what was at stake


def test_open_rows(config, lookups):
    engaging, prospecting = map_rows(numbered(SAMPLE_ROWS[2], SAMPLE_ROWS[3]), config, lookups).deals
    assert (engaging.stage, engaging.outcome, engaging.open_index) == ("Engaging", Outcome.OPEN, 1)
    assert engaging.account is None
    assert engaging.name == "MG Advanced (HAXMC4IX)"  # second template: no account
    assert engaging.close_date is None and engaging.amount is None
    assert engaging.booked_amount == 3393
    assert (prospecting.open_index, prospecting.engage_date) == (0, None)


def test_stage_names_match_case_insensitively_and_come_out_canonical(config, lookups):
    values = list(SAMPLE_ROWS[0])
    values[4] = " won "
    assert map_rows(numbered(values), config, lookups).deals[0].stage == "Won"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("close_date", "2017-13-01", "'2017-13-01' is not a date (YYYY-MM-DD)"),
        ("close_date", "", "is empty; a Won deal needs a close date"),
        ("close_date", "2016-01-01", "is before the engage date"),
        ("engage_date", "20/10/2016", "is not a date"),
        ("deal_stage", "Negotiation", "'Negotiation' is not a stage of this map"),
        ("deal_stage", "", "is empty"),
        ("opportunity_id", "", "every row needs an id"),
        ("opportunity_id", "x" * 151, "longer than 150"),
        ("close_value", "12k", "'12k' is not a number"),
        ("close_value", "-5", "not an amount"),
        ("close_value", "nan", "not an amount"),
        ("sales_agent", "Nobody Known", "'Nobody Known' is not in sales_teams.csv"),
        ("sales_agent", "", "is empty; needed to join sales_teams.csv"),
        ("product", "Hoverboard", "is not in products.csv"),
        ("account", "Acme\x07", "control characters"),
    ],
)
def test_a_bad_row_is_rejected_with_its_row_number_and_column(config, lookups, column, value, reason):
    values = row(SAMPLE_ROWS[0])
    values[column] = value
    result = map_rows([(2, row(SAMPLE_ROWS[1])), (3, values)], config, lookups)
    assert [d.source_id for d in result.deals] == ["Z063OYW0"]
    (rejection,) = result.rejected
    assert (rejection.row, rejection.column) == (3, column)
    assert reason in rejection.reason
    assert str(rejection).startswith(f"row 3, column {column!r}: ")
    assert result.rows_read == 2


def test_a_repeated_id_is_rejected_pointing_at_the_first(config, lookups):
    result = map_rows(numbered(SAMPLE_ROWS[0], SAMPLE_ROWS[1], SAMPLE_ROWS[0]), config, lookups)
    assert len(result.deals) == 2
    assert str(result.rejected[0]) == "row 4, column 'opportunity_id': duplicate id '1C1I7A6R' (first in row 2)"


def test_an_unmatched_optional_join_leaves_the_fields_out(config, lookups):
    from dataclasses import replace

    teams = replace(config.joins["teams"], required=False)
    loose = replace(config, joins={**config.joins, "teams": teams})
    values = row(SAMPLE_ROWS[0])
    values["sales_agent"] = "New Hire"
    deal = map_rows([(2, values)], loose, lookups).deals[0]
    assert (deal.owner_id, deal.team, deal.manager_id) == ("New Hire", None, None)


def test_missing_columns_fail_before_any_row(config):
    with pytest.raises(ConfigError, match=r"'deal_stage' \(for stage\)"):
        check_header(["opportunity_id", "sales_agent", "product", "account"], config)


def test_join_keys_ignore_case_spaces_and_punctuation(config):
    assert normalise_key("GTXPro") == normalise_key("GTX Pro") == normalise_key("gtx-pro")
    with pytest.raises(ConfigError, match="appears twice"):
        clash = {"product": "GTXPRO", "sales_price": "1"}
        build_lookup(config.joins["products"], list(PRODUCTS[0]), [*PRODUCTS, clash])
    with pytest.raises(ConfigError, match="has no column 'sales_price'"):
        build_lookup(config.joins["products"], ["product"], [])


def test_the_whole_maven_dataset_maps_without_rejections(maven_mapped):
    assert maven_mapped.rows_read == 8800
    assert maven_mapped.rejected == []
    stages = collections.Counter(d.stage for d in maven_mapped.deals)
    assert stages == {"Prospecting": 500, "Engaging": 1589, "Won": 4238, "Lost": 2473}
    assert all(d.list_price for d in maven_mapped.deals)  # GTXPro found as GTX Pro
    assert all(d.team and d.manager_id for d in maven_mapped.deals)
    assert {d.team for d in maven_mapped.deals} == {"Central", "East", "West"}

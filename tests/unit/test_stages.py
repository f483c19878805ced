import pytest

from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import Phase, StageMap, StageMapError

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


@pytest.mark.parametrize(
    "source, stage, phase",
    [
        ("salesforce", "Prospecting", Phase.EARLY),
        ("salesforce", "Qualification", Phase.EARLY),
        ("salesforce", "Needs Analysis", Phase.EARLY),
        ("salesforce", "Value Proposition", Phase.MID),
        ("salesforce", "Id. Decision Makers", Phase.MID),
        ("salesforce", "Perception Analysis", Phase.MID),
        ("salesforce", "Proposal/Price Quote", Phase.LATE),
        ("salesforce", "Negotiation/Review", Phase.LATE),
        ("salesforce", "Closed Won", Phase.WON),
        ("salesforce", "Closed Lost", Phase.LOST),
        ("hubspot", "appointmentscheduled", Phase.EARLY),
        ("hubspot", "qualifiedtobuy", Phase.EARLY),
        ("hubspot", "presentationscheduled", Phase.MID),
        ("hubspot", "decisionmakerboughtin", Phase.MID),
        ("hubspot", "contractsent", Phase.LATE),
        ("hubspot", "closedwon", Phase.WON),
        ("hubspot", "closedlost", Phase.LOST),
        ("pipedrive", "Qualified", Phase.EARLY),
        ("pipedrive", "Contact Made", Phase.EARLY),
        ("pipedrive", "Demo Scheduled", Phase.MID),
        ("pipedrive", "Proposal Made", Phase.LATE),
        ("pipedrive", "Negotiations Started", Phase.LATE),
        ("csv", "Prospecting", Phase.EARLY),
        ("csv", "Engaging", Phase.EARLY),
        ("csv", "Won", Phase.WON),
        ("csv", "Lost", Phase.LOST),
    ],
)
def test_default_pipelines_map_each_stage_to_its_phase(source, stage, phase):
    assert STAGES.phase(stage, source) is phase


def test_lookup_is_case_insensitive_and_falls_back_to_any_pipeline():
    assert STAGES.phase("negotiation/review", "api") is Phase.LATE
    assert STAGES.phase("  CONTRACTSENT ", "csv") is Phase.LATE


def test_unknown_or_missing_stage_is_unknown_and_open():
    assert STAGES.phase("Whatever", "salesforce") is Phase.UNKNOWN
    assert STAGES.phase(None) is Phase.UNKNOWN
    assert Phase.UNKNOWN.is_open and not Phase.WON.is_open


def test_pipedrive_stage_ids_have_names():
    assert [STAGES.stage_name("pipedrive", i) for i in range(1, 6)] == [
        "Qualified",
        "Contact Made",
        "Demo Scheduled",
        "Proposal Made",
        "Negotiations Started",
    ]
    assert STAGES.stage_name("pipedrive", 99) is None


def test_a_user_pipeline_needs_no_code(tmp_path):
    path = tmp_path / "stages.toml"
    path.write_text('[pipelines.mycrm]\n"Discovery" = "early"\n"Signing" = "late"\n')
    custom = StageMap.load(path)
    assert custom.phase("Discovery", "mycrm") is Phase.EARLY
    assert custom.phase("Signing", "mycrm") is Phase.LATE


def test_a_wrong_phase_in_the_file_is_reported_with_its_place(tmp_path):
    path = tmp_path / "stages.toml"
    path.write_text('[pipelines.mycrm]\n"Discovery" = "earlyish"\n')
    with pytest.raises(StageMapError, match=r"pipelines.mycrm.'Discovery' = 'earlyish'"):
        StageMap.load(path)

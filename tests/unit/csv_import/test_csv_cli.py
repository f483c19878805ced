import json

import httpx
import pytest
from typer.testing import CliRunner

from services.ingest.csv_import import cli
from services.ingest.csv_import.sender import IngestClient, RetryPolicy
from services.shared.events import decode_event

pytestmark = pytest.mark.unit

runner = CliRunner()


class FakeIngest:
    """Ingest behind an httpx.MockTransport: records batches, answers from a script."""

    def __init__(self, *script):
        self.script = list(script)
        self.batches: list[list[dict]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.script.pop(0) if self.script else 202
        if answer == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if answer != 202:
            return httpx.Response(answer, json={"detail": f"scripted {answer}"})
        batch = json.loads(request.content)
        self.batches.append(batch)
        self.headers.append(request.headers)
        return httpx.Response(202, json={"accepted": len(batch)})

    @property
    def events(self) -> list[dict]:
        return [e for batch in self.batches for e in batch]


@pytest.fixture
def ingest(monkeypatch):
    fake = FakeIngest()

    def build_client(url, api_key, retries):
        return IngestClient(
            url,
            api_key=api_key,
            retry=RetryPolicy(attempts=retries),
            transport=httpx.MockTransport(fake),
            sleep=lambda s: None,
        )

    monkeypatch.setattr(cli, "build_client", build_client)
    return fake


def invoke(*args: str):
    return runner.invoke(cli.app, [str(a) for a in args])


def summary(output: str) -> dict[str, str]:
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃| \n").split("│")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_import_end_to_end(sample_dir, ingest):
    result = invoke(sample_dir / "sales_pipeline.csv", "--batch-size", "2", "--api-key", "k1")
    assert result.exit_code == 0, result.output
    numbers = summary(result.stdout)
    assert numbers["rows read"] == "4"
    assert numbers["rows accepted"] == "4"
    assert numbers["rows rejected"] == "0"
    assert numbers["events sent"] == "6"
    assert "events/s" in numbers and "elapsed" in numbers
    assert [len(b) for b in ingest.batches] == [2, 2, 2]
    assert all(h["X-API-Key"] == "k1" for h in ingest.headers)
    events = [decode_event(e) for e in ingest.events]
    assert {e.deal_id for e in events} == {"csv:1C1I7A6R", "csv:Z063OYW0", "csv:HAXMC4IX", "csv:6CWZFOHJ"}
    assert events[0].occurred_at.year == 2017  # import mode does not shift by default


def test_reimporting_sends_the_same_event_ids(sample_dir, ingest):
    invoke(sample_dir / "sales_pipeline.csv")
    first = [e["event_id"] for e in ingest.events]
    ingest.batches.clear()
    invoke(sample_dir / "sales_pipeline.csv")
    assert [e["event_id"] for e in ingest.events] == first


def test_replay_with_date_shift(sample_dir, ingest):
    result = invoke(sample_dir / "sales_pipeline.csv", "--mode", "replay", "--shift-to", "2026-05-14", "--speed", "0")
    assert result.exit_code == 0, result.output
    events = [decode_event(e) for e in ingest.events]
    assert len(events) == 4 + 3 + 2  # created each; Engaging for three; won and lost
    assert max(e.occurred_at for e in events).date().isoformat() == "2026-05-14"
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert "shifted" in result.stderr


def test_rejected_rows_are_counted_and_named(sample_dir, ingest):
    path = sample_dir / "sales_pipeline.csv"
    path.write_text(path.read_text() + "BAD00001,Moses Frase,GTX Basic,Acme,Won,2017-01-02,2017-02-30,100\n")
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert summary(result.stdout)["rows rejected"] == "1"
    assert "rejected row 6, column 'close_date': '2017-02-30' is not a date (YYYY-MM-DD)" in result.stdout


def test_limit_reads_only_the_first_rows(sample_dir, ingest):
    result = invoke(sample_dir / "sales_pipeline.csv", "--limit", "1")
    assert summary(result.stdout)["rows read"] == "1"
    assert len(ingest.events) == 2


def test_503_is_retried(sample_dir, ingest):
    ingest.script = [503, "down", 503]
    result = invoke(sample_dir / "sales_pipeline.csv")
    assert result.exit_code == 0, result.output
    assert summary(result.stdout)["retries"] == "3"
    assert len(ingest.events) == 6


def test_unreachable_ingest_exits_non_zero(sample_dir, ingest):
    ingest.script = ["down"] * 3
    result = invoke(sample_dir / "sales_pipeline.csv", "--retries", "3")
    assert result.exit_code == cli.EXIT_UNREACHABLE
    assert summary(result.stdout)["events sent"] == "0"
    assert "stopped: ingest at http://127.0.0.1:8001 failed 3 times" in result.stdout


def test_refused_batches_are_reported(sample_dir, ingest):
    ingest.script = [422]
    result = invoke(sample_dir / "sales_pipeline.csv", "--batch-size", "4")
    assert result.exit_code == cli.EXIT_INCOMPLETE
    numbers = summary(result.stdout)
    assert (numbers["events sent"], numbers["events refused"]) == ("2", "4")
    assert "ingest refused the batch (422): scripted 422" in result.stdout


def test_a_wrong_key_stops_at_once(sample_dir, ingest):
    ingest.script = [401]
    result = invoke(sample_dir / "sales_pipeline.csv", "--batch-size", "2")
    assert result.exit_code == cli.EXIT_INCOMPLETE
    assert ingest.batches == []


def test_missing_join_file(sample_dir, ingest):
    (sample_dir / "sales_teams.csv").unlink()
    result = invoke(sample_dir / "sales_pipeline.csv")
    assert result.exit_code == cli.EXIT_USAGE
    assert "sales_teams.csv not found (pass --teams)" in result.stderr


def test_join_files_can_be_given(sample_dir, tmp_path_factory, ingest):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (sample_dir / "sales_teams.csv").rename(elsewhere / "teams.csv")
    result = invoke(sample_dir / "sales_pipeline.csv", "--teams", elsewhere / "teams.csv")
    assert result.exit_code == 0, result.output


def test_bad_shift_and_dry_run(sample_dir, ingest):
    result = invoke(sample_dir / "sales_pipeline.csv", "--shift-to", "soon")
    assert result.exit_code == 2 and "--shift-to" in result.output
    result = invoke(sample_dir / "sales_pipeline.csv", "--dry-run")
    assert result.exit_code == 0
    assert summary(result.stdout)["events derived"] == "6"
    assert ingest.batches == []


def test_the_whole_maven_dataset_imports(maven_dir, ingest):
    result = invoke(maven_dir / "sales_pipeline.csv", "--shift-to", "today")
    assert result.exit_code == 0, result.output
    numbers = summary(result.stdout)
    assert (numbers["rows read"], numbers["rows rejected"], numbers["events sent"]) == ("8,800", "0", "15,511")
    assert len(ingest.batches) == 32  # 500 a batch


def test_a_join_option_needs_a_join_in_the_map(sample_dir, tmp_path, ingest):
    bare = tmp_path / "bare.toml"
    bare.write_text(
        '[columns]\nid = "opportunity_id"\nstage = "deal_stage"\n[stages]\nopen = ["Prospecting", "Engaging"]\n'
    )
    path = sample_dir / "sales_pipeline.csv"
    result = invoke(path, "--config", bare, "--teams", sample_dir / "sales_teams.csv")
    assert result.exit_code == cli.EXIT_USAGE
    assert "no [joins.teams]" in result.stderr
    result = invoke(path, "--config", bare)
    assert result.exit_code == 0, result.output
    assert summary(result.stdout)["rows rejected"] == "2"  # Won and Lost are not stages of that map


def test_a_file_that_is_not_utf8_csv(sample_dir, ingest):
    path = sample_dir / "sales_pipeline.csv"
    path.write_bytes(path.read_bytes() + b"\xff\xfe,broken\n")
    result = invoke(path)
    assert result.exit_code == cli.EXIT_USAGE
    assert "cannot be read as UTF-8 CSV" in result.stderr

"""The scoring worker's data directory is ready before faust needs it."""

import pytest

from pipeline_review.scoring.app import create_app
from pipeline_review.scoring.settings import ScoringSettings

pytestmark = pytest.mark.unit


def test_relative_data_dir_is_created_with_its_parents(tmp_path, monkeypatch):
    # A fresh clone has no .run/: faust creates only the last level and would fail.
    monkeypatch.chdir(tmp_path)
    settings = ScoringSettings(data_dir="not-yet/there/scoring")

    path = settings.prepared_data_dir()

    assert path == tmp_path / "not-yet" / "there" / "scoring"
    assert path.is_dir()


def test_the_faust_app_gets_the_absolute_created_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app(ScoringSettings(data_dir=".run/scoring", app_id="settings-test"))

    assert app.conf.datadir == tmp_path / ".run" / "scoring"
    assert app.conf.datadir.is_dir()


def test_an_uncreatable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(SystemExit, match="PR_SCORING_DATA_DIR=.*cannot create"):
        ScoringSettings(data_dir=str(blocker / "scoring")).prepared_data_dir()

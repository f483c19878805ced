"""The scoring worker's data directory is ready before faust needs it."""

import pytest

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings

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

    with pytest.raises(SystemExit, match=r"PR_SCORING_DATA_DIR=.*cannot create"):
        ScoringSettings(data_dir=str(blocker / "scoring")).prepared_data_dir()


def test_the_worker_gives_its_changelog_the_project_topics_replicas(tmp_path, monkeypatch):
    # faust creates the changelog and assignor topics itself: on a cluster they need replicas too.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PR_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("PR_TOPIC_MIN_INSYNC_REPLICAS", "2")
    app = create_app(ScoringSettings(data_dir=".run/scoring", app_id="replicas-test"))

    assert app.conf.topic_replication_factor == 3
    assert app.conf.producer_acks == -1
    changelog = app.tables["deals"].changelog_topic
    # No replicas of its own: faust declares it with the app's topic_replication_factor.
    assert changelog.replicas is None
    assert changelog.config["min.insync.replicas"] == "2"

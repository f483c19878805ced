"""/readyz of the scoring worker fails once faust reported an error in table recovery."""

from __future__ import annotations

import json
from types import SimpleNamespace

import faust.tables.recovery

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings


async def ready(app) -> tuple[int, dict]:
    view = app.pr_readyz(app, app.web)
    response = await view.get(SimpleNamespace(headers={}))
    return response.status, json.loads(response.body)


async def test_an_error_in_recovery_makes_the_worker_not_ready_and_is_counted(common_settings, tmp_path):
    app = create_app(ScoringSettings(common=common_settings, data_dir=str(tmp_path)))
    try:
        app.tables.recovery.completed.set()
        status, body = await ready(app)
        assert (status, body["recovery_errors"], body["redis"]) == (200, 0, True)

        # What faust logs when applying a changelog record raised: the record is skipped.
        faust.tables.recovery.logger.warning("Error in recovery 'NoneType' object is not subscriptable")
        status, body = await ready(app)
        assert status == 503
        assert body["recovery_errors"] == 1
        assert body["last_recovery_error"].startswith("Error in recovery")
        assert app.pr_metrics_registry.get_sample_value("pr_scoring_recovery_errors_total") == 1.0
    finally:
        app.pr_recovery_errors.uninstall()

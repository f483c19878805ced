"""faust_compat: the workarounds' contract holds for the installed faust, and recovery errors are counted."""

from __future__ import annotations

import logging

import faust
import pytest
from prometheus_client import CollectorRegistry

from services.scoring.faust_compat import FaustIncompatible, RecoveryErrors, check_faust

pytestmark = pytest.mark.unit


def test_the_installed_faust_has_everything_the_workarounds_rely_on():
    check_faust()  # raises FaustIncompatible otherwise


def test_a_missing_attribute_fails_naming_the_faust_version_and_the_attribute():
    contract = [
        ("faust.app.base.App", "_renamed_in_a_later_faust", "class"),
        ("faust.transport.consumer.ThreadDelegateConsumer", "_gone", "init"),
        ("faust.tables.recovery.Recovery._slurp_changelogs", "a message faust never logs", "source"),
        ("faust.no_such_module.Thing", "x", "class"),
    ]
    with pytest.raises(FaustIncompatible) as error:
        check_faust(contract)
    message = str(error.value)
    assert f"faust-streaming {faust.__version__}" in message
    for missing in (
        "App._renamed_in_a_later_faust",
        "ThreadDelegateConsumer._gone",
        "a message faust never logs",
        "faust.no_such_module.Thing.x",
    ):
        assert missing in message


def test_the_instance_attributes_in_the_contract_are_really_set_by_faust():
    # "init" entries are checked in the source; here the real objects confirm the reading.
    from faust.transport.drivers.aiokafka import Producer

    app = faust.App("compat-test", broker="kafka://127.0.0.1:1")
    assert hasattr(Producer(app.transport), "_transaction_producers")
    assert hasattr(app.consumer, "_thread") and hasattr(app.consumer._thread, "_highwaters")
    assert hasattr(app.consumer, "_read_offset")


def test_faust_s_error_in_recovery_is_counted_as_a_metric():
    registry = CollectorRegistry()
    errors = RecoveryErrors(registry).install()
    try:
        recovery_logger = logging.getLogger("faust.tables.recovery")
        recovery_logger.warning("Recovery message topic x offset 3")  # not an error
        # What faust's Recovery._slurp_changelogs logs when applying a record raised.
        import faust.tables.recovery as recovery

        recovery.logger.warning(f"Error in recovery {TypeError('unsupported operand')}")
    finally:
        errors.uninstall()
    assert errors.count == 1
    assert errors.last_error == "Error in recovery unsupported operand"
    assert registry.get_sample_value("pr_scoring_recovery_errors_total") == 1.0

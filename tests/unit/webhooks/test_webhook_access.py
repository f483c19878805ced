"""Who may see and create which subscriptions (pure rules behind the routes)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from services.review.access import Principal
from services.review.webhooks.api import caller_of, may_see, require_manager, scoped_filter, shown
from services.review.webhooks.rules import WebhookFilter

pytestmark = pytest.mark.unit

ADMIN = Principal("root", "admin", None)
EAST = Principal("ann", "manager", frozenset({"East"}))
ALL_TEAMS_MANAGER = Principal("bob", "manager", None)
DASHBOARD = Principal("wall", "dashboard", frozenset({"East"}))


def test_scope_follows_the_team_filter():
    assert may_see(ADMIN, WebhookFilter())
    assert may_see(ALL_TEAMS_MANAGER, WebhookFilter(teams=["West"]))
    assert may_see(EAST, WebhookFilter(teams=["East"]))
    assert not may_see(DASHBOARD, WebhookFilter(teams=["East"]))  # dashboards never see where alerts go
    assert not may_see(EAST, WebhookFilter(teams=["East", "West"]))
    assert not may_see(EAST, WebhookFilter())  # all teams reaches beyond East
    assert not may_see(Principal("x", "guest", None), WebhookFilter())


def test_a_team_limited_manager_gets_its_teams_when_it_names_none():
    assert scoped_filter(EAST, WebhookFilter()).teams == ["East"]
    assert scoped_filter(EAST, WebhookFilter(teams=["East"])).teams == ["East"]
    assert scoped_filter(ADMIN, WebhookFilter()).teams is None


@pytest.mark.parametrize(
    ("caller", "flt"),
    [
        (EAST, WebhookFilter(teams=["West"])),
        (EAST, WebhookFilter.model_validate({"teams": None})),
        (DASHBOARD, WebhookFilter(teams=["East"])),
        (Principal("x", "guest", None), WebhookFilter()),
    ],
)
def test_out_of_scope_or_read_only_callers_are_forbidden(caller, flt):
    with pytest.raises(HTTPException) as err:
        scoped_filter(caller, flt)
    assert err.value.status_code == 403


@pytest.mark.parametrize("caller", [DASHBOARD, Principal("x", "guest", None), Principal(None, "", None)])
def test_only_admins_and_managers_use_the_webhook_routes(caller):
    with pytest.raises(HTTPException) as err:
        require_manager(caller)
    assert err.value.status_code == 403 and "admin or manager" in err.value.detail
    require_manager(ADMIN)
    require_manager(EAST)


def test_only_admins_see_full_urls_others_the_host():
    record = {"id": "wh-1", "url": "https://hooks.slack.com:8443/services/T0/B0/secret-part"}
    assert shown(ADMIN, record) == record | {"host": "hooks.slack.com:8443"}
    assert shown(EAST, record) == {"id": "wh-1", "url": None, "host": "hooks.slack.com:8443"}
    assert shown(EAST, {"id": "legacy"}) == {"id": "legacy"}


def test_a_request_without_a_principal_is_a_401_never_an_admin():
    for request in (SimpleNamespace(state=SimpleNamespace(principal=None)), SimpleNamespace(state=SimpleNamespace())):
        with pytest.raises(HTTPException) as err:
            caller_of(request)
        assert err.value.status_code == 401 and "API key" in err.value.detail
    ana = SimpleNamespace(name="ana", role="manager", teams={"East"})
    assert caller_of(SimpleNamespace(state=SimpleNamespace(principal=ana))) == Principal(
        "ana", "manager", frozenset({"East"})
    )

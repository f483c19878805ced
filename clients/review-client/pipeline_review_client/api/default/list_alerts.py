import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.alert_page import AlertPage
from ...models.error_body import ErrorBody
from ...models.list_alerts_kind_type_0 import ListAlertsKindType0
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: ListAlertsKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_team: None | str | Unset
    if isinstance(team, Unset):
        json_team = UNSET
    else:
        json_team = team
    params["team"] = json_team

    json_manager: None | str | Unset
    if isinstance(manager, Unset):
        json_manager = UNSET
    else:
        json_manager = manager
    params["manager"] = json_manager

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    elif isinstance(kind, ListAlertsKindType0):
        json_kind = kind.value
    else:
        json_kind = kind
    params["kind"] = json_kind

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    elif isinstance(since, datetime.datetime):
        json_since = since.isoformat()
    else:
        json_since = since
    params["since"] = json_since

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    json_after: None | str | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/alerts",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AlertPage | ErrorBody | None:
    if response.status_code == 200:
        response_200 = AlertPage.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AlertPage | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: ListAlertsKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
) -> Response[AlertPage | ErrorBody]:
    """The alert feed, newest first; ?after= for pollers

     The alert feed, newest first, paged with `?cursor=` (the `next_cursor` of the previous page).

    **Polling** — `?after=<alert_id or cursor>` returns only the alerts newer than that one, **oldest
    first**,
    so a poller never misses one: process the items in order; while `next_cursor` is not null ask again
    at once
    with `?after=<next_cursor>`; when it is null the poller has caught up and asks next time with the
    `cursor` of
    the last item. With both `after` and `cursor`, `after` wins and `cursor` is ignored (a poller's
    `after` is the position it must not
    skip past).

    A page reads at most `PR_REVIEW_MAX_SCAN_ROWS` feed entries: with filters that match few alerts it
    can come
    back short, even empty, with a `next_cursor` to continue from. Only a null `next_cursor` means the
    end.

    A manager key sees only its teams' alerts (a `team` outside them is 403).

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (ListAlertsKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (an alert's cursor).
        after (None | str | Unset): An alert_id or cursor: only newer alerts, oldest first.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AlertPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        limit=limit,
        cursor=cursor,
        after=after,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: ListAlertsKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
) -> AlertPage | ErrorBody | None:
    """The alert feed, newest first; ?after= for pollers

     The alert feed, newest first, paged with `?cursor=` (the `next_cursor` of the previous page).

    **Polling** — `?after=<alert_id or cursor>` returns only the alerts newer than that one, **oldest
    first**,
    so a poller never misses one: process the items in order; while `next_cursor` is not null ask again
    at once
    with `?after=<next_cursor>`; when it is null the poller has caught up and asks next time with the
    `cursor` of
    the last item. With both `after` and `cursor`, `after` wins and `cursor` is ignored (a poller's
    `after` is the position it must not
    skip past).

    A page reads at most `PR_REVIEW_MAX_SCAN_ROWS` feed entries: with filters that match few alerts it
    can come
    back short, even empty, with a `next_cursor` to continue from. Only a null `next_cursor` means the
    end.

    A manager key sees only its teams' alerts (a `team` outside them is 403).

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (ListAlertsKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (an alert's cursor).
        after (None | str | Unset): An alert_id or cursor: only newer alerts, oldest first.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AlertPage | ErrorBody
    """

    return sync_detailed(
        client=client,
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        limit=limit,
        cursor=cursor,
        after=after,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: ListAlertsKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
) -> Response[AlertPage | ErrorBody]:
    """The alert feed, newest first; ?after= for pollers

     The alert feed, newest first, paged with `?cursor=` (the `next_cursor` of the previous page).

    **Polling** — `?after=<alert_id or cursor>` returns only the alerts newer than that one, **oldest
    first**,
    so a poller never misses one: process the items in order; while `next_cursor` is not null ask again
    at once
    with `?after=<next_cursor>`; when it is null the poller has caught up and asks next time with the
    `cursor` of
    the last item. With both `after` and `cursor`, `after` wins and `cursor` is ignored (a poller's
    `after` is the position it must not
    skip past).

    A page reads at most `PR_REVIEW_MAX_SCAN_ROWS` feed entries: with filters that match few alerts it
    can come
    back short, even empty, with a `next_cursor` to continue from. Only a null `next_cursor` means the
    end.

    A manager key sees only its teams' alerts (a `team` outside them is 403).

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (ListAlertsKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (an alert's cursor).
        after (None | str | Unset): An alert_id or cursor: only newer alerts, oldest first.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AlertPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        limit=limit,
        cursor=cursor,
        after=after,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: ListAlertsKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
) -> AlertPage | ErrorBody | None:
    """The alert feed, newest first; ?after= for pollers

     The alert feed, newest first, paged with `?cursor=` (the `next_cursor` of the previous page).

    **Polling** — `?after=<alert_id or cursor>` returns only the alerts newer than that one, **oldest
    first**,
    so a poller never misses one: process the items in order; while `next_cursor` is not null ask again
    at once
    with `?after=<next_cursor>`; when it is null the poller has caught up and asks next time with the
    `cursor` of
    the last item. With both `after` and `cursor`, `after` wins and `cursor` is ignored (a poller's
    `after` is the position it must not
    skip past).

    A page reads at most `PR_REVIEW_MAX_SCAN_ROWS` feed entries: with filters that match few alerts it
    can come
    back short, even empty, with a `next_cursor` to continue from. Only a null `next_cursor` means the
    end.

    A manager key sees only its teams' alerts (a `team` outside them is 403).

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (ListAlertsKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (an alert's cursor).
        after (None | str | Unset): An alert_id or cursor: only newer alerts, oldest first.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AlertPage | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            team=team,
            manager=manager,
            kind=kind,
            since=since,
            limit=limit,
            cursor=cursor,
            after=after,
        )
    ).parsed

import datetime
from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.alert_stream_kind_type_0 import AlertStreamKindType0
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: AlertStreamKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

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
    elif isinstance(kind, AlertStreamKindType0):
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

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/alerts/stream",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | ErrorBody | None:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | ErrorBody]:
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
    kind: AlertStreamKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Live alerts as Server-Sent Events, resumable

     Server-Sent Events: each alert is sent as `id: <cursor>`, `event: alert`, `data: <feed item JSON>`;
    comment lines (`: ping ...`) are heartbeats. Reconnecting with `Last-Event-ID` (browsers do it by
    themselves)
    or `?cursor=` first replays, oldest first, every alert after that cursor, then follows live: no
    gaps, no
    duplicates. Without either, the stream starts with alerts arriving from now on. A client that falls
    too far
    behind is disconnected; it resumes with its last id.

    Credentials: an API key in a header (`X-API-Key` or `Authorization: Bearer`), or — for browsers,
    whose
    EventSource cannot set headers — `?token=` from `POST /v1/alerts/stream-token`. A token opens one
    stream, once,
    within its lifetime (at most 60 s); a client that reconnects fetches a new one and resumes with
    `?cursor=`.

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (AlertStreamKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        cursor (None | str | Unset): Resume after this cursor or alert id.
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        cursor=cursor,
        last_event_id=last_event_id,
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
    kind: AlertStreamKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Live alerts as Server-Sent Events, resumable

     Server-Sent Events: each alert is sent as `id: <cursor>`, `event: alert`, `data: <feed item JSON>`;
    comment lines (`: ping ...`) are heartbeats. Reconnecting with `Last-Event-ID` (browsers do it by
    themselves)
    or `?cursor=` first replays, oldest first, every alert after that cursor, then follows live: no
    gaps, no
    duplicates. Without either, the stream starts with alerts arriving from now on. A client that falls
    too far
    behind is disconnected; it resumes with its last id.

    Credentials: an API key in a header (`X-API-Key` or `Authorization: Bearer`), or — for browsers,
    whose
    EventSource cannot set headers — `?token=` from `POST /v1/alerts/stream-token`. A token opens one
    stream, once,
    within its lifetime (at most 60 s); a client that reconnects fetches a new one and resumes with
    `?cursor=`.

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (AlertStreamKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        cursor (None | str | Unset): Resume after this cursor or alert id.
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return sync_detailed(
        client=client,
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        cursor=cursor,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: AlertStreamKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Live alerts as Server-Sent Events, resumable

     Server-Sent Events: each alert is sent as `id: <cursor>`, `event: alert`, `data: <feed item JSON>`;
    comment lines (`: ping ...`) are heartbeats. Reconnecting with `Last-Event-ID` (browsers do it by
    themselves)
    or `?cursor=` first replays, oldest first, every alert after that cursor, then follows live: no
    gaps, no
    duplicates. Without either, the stream starts with alerts arriving from now on. A client that falls
    too far
    behind is disconnected; it resumes with its last id.

    Credentials: an API key in a header (`X-API-Key` or `Authorization: Bearer`), or — for browsers,
    whose
    EventSource cannot set headers — `?token=` from `POST /v1/alerts/stream-token`. A token opens one
    stream, once,
    within its lifetime (at most 60 s); a client that reconnects fetches a new one and resumes with
    `?cursor=`.

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (AlertStreamKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        cursor (None | str | Unset): Resume after this cursor or alert id.
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        team=team,
        manager=manager,
        kind=kind,
        since=since,
        cursor=cursor,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    kind: AlertStreamKindType0 | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Live alerts as Server-Sent Events, resumable

     Server-Sent Events: each alert is sent as `id: <cursor>`, `event: alert`, `data: <feed item JSON>`;
    comment lines (`: ping ...`) are heartbeats. Reconnecting with `Last-Event-ID` (browsers do it by
    themselves)
    or `?cursor=` first replays, oldest first, every alert after that cursor, then follows live: no
    gaps, no
    duplicates. Without either, the stream starts with alerts arriving from now on. A client that falls
    too far
    behind is disconnected; it resumes with its last id.

    Credentials: an API key in a header (`X-API-Key` or `Authorization: Bearer`), or — for browsers,
    whose
    EventSource cannot set headers — `?token=` from `POST /v1/alerts/stream-token`. A token opens one
    stream, once,
    within its lifetime (at most 60 s); a client that reconnects fetches a new one and resumes with
    `?cursor=`.

    Args:
        team (None | str | Unset): Only deals of this team.
        manager (None | str | Unset): Only deals of this manager id.
        kind (AlertStreamKindType0 | None | Unset): Only alerts of this kind.
        since (datetime.datetime | None | Unset): Only alerts that occurred at or after this ISO
            datetime (naive = UTC).
        cursor (None | str | Unset): Resume after this cursor or alert id.
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            team=team,
            manager=manager,
            kind=kind,
            since=since,
            cursor=cursor,
            last_event_id=last_event_id,
        )
    ).parsed

from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.list_page import ListPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    min_amount: float | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_team: None | str | Unset
    if isinstance(team, Unset):
        json_team = UNSET
    else:
        json_team = team
    params["team"] = json_team

    json_owner: None | str | Unset
    if isinstance(owner, Unset):
        json_owner = UNSET
    else:
        json_owner = owner
    params["owner"] = json_owner

    json_manager: None | str | Unset
    if isinstance(manager, Unset):
        json_manager = UNSET
    else:
        json_manager = manager
    params["manager"] = json_manager

    json_min_amount: float | None | Unset
    if isinstance(min_amount, Unset):
        json_min_amount = UNSET
    else:
        json_min_amount = min_amount
    params["min_amount"] = json_min_amount

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/lists/leader",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | ListPage | None:
    if response.status_code == 200:
        response_200 = ListPage.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

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
) -> Response[ErrorBody | ListPage]:
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
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    min_amount: float | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | ListPage]:
    """Early-stage deals by potential value × evidence coverage (not a win probability)

    Args:
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        min_amount (float | None | Unset): Only deals with at least this amount (a finite number).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListPage]
    """

    kwargs = _get_kwargs(
        team=team,
        owner=owner,
        manager=manager,
        min_amount=min_amount,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    min_amount: float | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | ListPage | None:
    """Early-stage deals by potential value × evidence coverage (not a win probability)

    Args:
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        min_amount (float | None | Unset): Only deals with at least this amount (a finite number).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListPage
    """

    return sync_detailed(
        client=client,
        team=team,
        owner=owner,
        manager=manager,
        min_amount=min_amount,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    min_amount: float | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | ListPage]:
    """Early-stage deals by potential value × evidence coverage (not a win probability)

    Args:
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        min_amount (float | None | Unset): Only deals with at least this amount (a finite number).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListPage]
    """

    kwargs = _get_kwargs(
        team=team,
        owner=owner,
        manager=manager,
        min_amount=min_amount,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    min_amount: float | None | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | ListPage | None:
    """Early-stage deals by potential value × evidence coverage (not a win probability)

    Args:
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        min_amount (float | None | Unset): Only deals with at least this amount (a finite number).
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListPage
    """

    return (
        await asyncio_detailed(
            client=client,
            team=team,
            owner=owner,
            manager=manager,
            min_amount=min_amount,
            limit=limit,
            cursor=cursor,
        )
    ).parsed

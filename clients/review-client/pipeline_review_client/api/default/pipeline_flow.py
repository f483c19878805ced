from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.flow_answer import FlowAnswer
from ...models.pipeline_flow_bucket_type_0 import PipelineFlowBucketType0
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    bucket: None | PipelineFlowBucketType0 | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_quarter: None | str | Unset
    if isinstance(quarter, Unset):
        json_quarter = UNSET
    else:
        json_quarter = quarter
    params["quarter"] = json_quarter

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

    json_bucket: None | str | Unset
    if isinstance(bucket, Unset):
        json_bucket = UNSET
    elif isinstance(bucket, PipelineFlowBucketType0):
        json_bucket = bucket.value
    else:
        json_bucket = bucket
    params["bucket"] = json_bucket

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
        "url": "/v1/pipeline/flow",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | FlowAnswer | None:
    if response.status_code == 200:
        response_200 = FlowAnswer.from_dict(response.json())

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
) -> Response[ErrorBody | FlowAnswer]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    bucket: None | PipelineFlowBucketType0 | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | FlowAnswer]:
    """How the quarter's pipeline moved: start, new, pulled in, pushed out, changed, won, lost, end

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4: the current one (default) or the
            previous one.
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        bucket (None | PipelineFlowBucketType0 | Unset): Page this bucket's deals instead of only
            counting them.
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | FlowAnswer]
    """

    kwargs = _get_kwargs(
        quarter=quarter,
        team=team,
        owner=owner,
        manager=manager,
        bucket=bucket,
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
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    bucket: None | PipelineFlowBucketType0 | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | FlowAnswer | None:
    """How the quarter's pipeline moved: start, new, pulled in, pushed out, changed, won, lost, end

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4: the current one (default) or the
            previous one.
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        bucket (None | PipelineFlowBucketType0 | Unset): Page this bucket's deals instead of only
            counting them.
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | FlowAnswer
    """

    return sync_detailed(
        client=client,
        quarter=quarter,
        team=team,
        owner=owner,
        manager=manager,
        bucket=bucket,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    bucket: None | PipelineFlowBucketType0 | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | FlowAnswer]:
    """How the quarter's pipeline moved: start, new, pulled in, pushed out, changed, won, lost, end

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4: the current one (default) or the
            previous one.
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        bucket (None | PipelineFlowBucketType0 | Unset): Page this bucket's deals instead of only
            counting them.
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | FlowAnswer]
    """

    kwargs = _get_kwargs(
        quarter=quarter,
        team=team,
        owner=owner,
        manager=manager,
        bucket=bucket,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
    owner: None | str | Unset = UNSET,
    manager: None | str | Unset = UNSET,
    bucket: None | PipelineFlowBucketType0 | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | FlowAnswer | None:
    """How the quarter's pipeline moved: start, new, pulled in, pushed out, changed, won, lost, end

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4: the current one (default) or the
            previous one.
        team (None | str | Unset): Only deals of this team.
        owner (None | str | Unset): Only deals of this owner id.
        manager (None | str | Unset): Only deals of this manager id.
        bucket (None | PipelineFlowBucketType0 | Unset): Page this bucket's deals instead of only
            counting them.
        limit (int | Unset): Page size (default 50, at most 500). Default: 50.
        cursor (None | str | Unset): next_cursor of the previous page (opaque).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | FlowAnswer
    """

    return (
        await asyncio_detailed(
            client=client,
            quarter=quarter,
            team=team,
            owner=owner,
            manager=manager,
            bucket=bucket,
            limit=limit,
            cursor=cursor,
        )
    ).parsed

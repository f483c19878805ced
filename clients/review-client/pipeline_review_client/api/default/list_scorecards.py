from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.list_scorecards_response_list_scorecards import ListScorecardsResponseListScorecards
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
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

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/scorecards",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ListScorecardsResponseListScorecards | None:
    if response.status_code == 200:
        response_200 = ListScorecardsResponseListScorecards.from_dict(response.json())

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
) -> Response[ErrorBody | ListScorecardsResponseListScorecards]:
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
) -> Response[ErrorBody | ListScorecardsResponseListScorecards]:
    """Every actor's scorecard for a quarter: leader or manager?

     One item per actor with `leader_share`, `early_touch_share`, `late_discounts`,
    `late_discount_intensity`, `help` and `verdict`, each with the counts and values it is made of
    (definitions: docs/scorecard.md). A manager key sees only its teams' deals.

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListScorecardsResponseListScorecards]
    """

    kwargs = _get_kwargs(
        quarter=quarter,
        team=team,
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
) -> ErrorBody | ListScorecardsResponseListScorecards | None:
    """Every actor's scorecard for a quarter: leader or manager?

     One item per actor with `leader_share`, `early_touch_share`, `late_discounts`,
    `late_discount_intensity`, `help` and `verdict`, each with the counts and values it is made of
    (definitions: docs/scorecard.md). A manager key sees only its teams' deals.

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListScorecardsResponseListScorecards
    """

    return sync_detailed(
        client=client,
        quarter=quarter,
        team=team,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> Response[ErrorBody | ListScorecardsResponseListScorecards]:
    """Every actor's scorecard for a quarter: leader or manager?

     One item per actor with `leader_share`, `early_touch_share`, `late_discounts`,
    `late_discount_intensity`, `help` and `verdict`, each with the counts and values it is made of
    (definitions: docs/scorecard.md). A manager key sees only its teams' deals.

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListScorecardsResponseListScorecards]
    """

    kwargs = _get_kwargs(
        quarter=quarter,
        team=team,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> ErrorBody | ListScorecardsResponseListScorecards | None:
    """Every actor's scorecard for a quarter: leader or manager?

     One item per actor with `leader_share`, `early_touch_share`, `late_discounts`,
    `late_discount_intensity`, `help` and `verdict`, each with the counts and values it is made of
    (definitions: docs/scorecard.md). A manager key sees only its teams' deals.

    Args:
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListScorecardsResponseListScorecards
    """

    return (
        await asyncio_detailed(
            client=client,
            quarter=quarter,
            team=team,
        )
    ).parsed

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.actor_scorecard_response_actor_scorecard import ActorScorecardResponseActorScorecard
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    actor: str,
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
        "url": "/v1/scorecards/{actor}".format(
            actor=quote(str(actor), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ActorScorecardResponseActorScorecard | ErrorBody | None:
    if response.status_code == 200:
        response_200 = ActorScorecardResponseActorScorecard.from_dict(response.json())

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
) -> Response[ActorScorecardResponseActorScorecard | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    actor: str,
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> Response[ActorScorecardResponseActorScorecard | ErrorBody]:
    """One actor's scorecard for a quarter

    Args:
        actor (str):
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ActorScorecardResponseActorScorecard | ErrorBody]
    """

    kwargs = _get_kwargs(
        actor=actor,
        quarter=quarter,
        team=team,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    actor: str,
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> ActorScorecardResponseActorScorecard | ErrorBody | None:
    """One actor's scorecard for a quarter

    Args:
        actor (str):
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ActorScorecardResponseActorScorecard | ErrorBody
    """

    return sync_detailed(
        actor=actor,
        client=client,
        quarter=quarter,
        team=team,
    ).parsed


async def asyncio_detailed(
    actor: str,
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> Response[ActorScorecardResponseActorScorecard | ErrorBody]:
    """One actor's scorecard for a quarter

    Args:
        actor (str):
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ActorScorecardResponseActorScorecard | ErrorBody]
    """

    kwargs = _get_kwargs(
        actor=actor,
        quarter=quarter,
        team=team,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    actor: str,
    *,
    client: AuthenticatedClient | Client,
    quarter: None | str | Unset = UNSET,
    team: None | str | Unset = UNSET,
) -> ActorScorecardResponseActorScorecard | ErrorBody | None:
    """One actor's scorecard for a quarter

    Args:
        actor (str):
        quarter (None | str | Unset): Quarter, e.g. 2026Q4 (default: the current one).
        team (None | str | Unset): Only deals of this team.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ActorScorecardResponseActorScorecard | ErrorBody
    """

    return (
        await asyncio_detailed(
            actor=actor,
            client=client,
            quarter=quarter,
            team=team,
        )
    ).parsed

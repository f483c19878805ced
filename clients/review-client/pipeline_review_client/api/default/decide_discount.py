from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.action_accepted import ActionAccepted
from ...models.decision_request import DecisionRequest
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    alert_id: str,
    *,
    body: DecisionRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/alerts/{alert_id}/decision".format(
            alert_id=quote(str(alert_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ActionAccepted | ErrorBody | None:
    if response.status_code == 202:
        response_202 = ActionAccepted.from_dict(response.json())

        return response_202

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

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

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
) -> Response[ActionAccepted | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    alert_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: DecisionRequest,
) -> Response[ActionAccepted | ErrorBody]:
    """Approve, reject or counter a requested discount (deal.discount_decided)

     On a `late_stage_discount` or `discount_info` alert. A `high` severity alert needs an admin key
    unless PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE=manager. Answered 202 once Kafka acknowledged the
    event; the alert then shows the decision, and an approved or countered discount becomes the deal's
    discount_pct.

    Args:
        alert_id (str): The alert's id (al-<20 hex digits>).
        body (DecisionRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ActionAccepted | ErrorBody]
    """

    kwargs = _get_kwargs(
        alert_id=alert_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    alert_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: DecisionRequest,
) -> ActionAccepted | ErrorBody | None:
    """Approve, reject or counter a requested discount (deal.discount_decided)

     On a `late_stage_discount` or `discount_info` alert. A `high` severity alert needs an admin key
    unless PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE=manager. Answered 202 once Kafka acknowledged the
    event; the alert then shows the decision, and an approved or countered discount becomes the deal's
    discount_pct.

    Args:
        alert_id (str): The alert's id (al-<20 hex digits>).
        body (DecisionRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ActionAccepted | ErrorBody
    """

    return sync_detailed(
        alert_id=alert_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    alert_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: DecisionRequest,
) -> Response[ActionAccepted | ErrorBody]:
    """Approve, reject or counter a requested discount (deal.discount_decided)

     On a `late_stage_discount` or `discount_info` alert. A `high` severity alert needs an admin key
    unless PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE=manager. Answered 202 once Kafka acknowledged the
    event; the alert then shows the decision, and an approved or countered discount becomes the deal's
    discount_pct.

    Args:
        alert_id (str): The alert's id (al-<20 hex digits>).
        body (DecisionRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ActionAccepted | ErrorBody]
    """

    kwargs = _get_kwargs(
        alert_id=alert_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    alert_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: DecisionRequest,
) -> ActionAccepted | ErrorBody | None:
    """Approve, reject or counter a requested discount (deal.discount_decided)

     On a `late_stage_discount` or `discount_info` alert. A `high` severity alert needs an admin key
    unless PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE=manager. Answered 202 once Kafka acknowledged the
    event; the alert then shows the decision, and an approved or countered discount becomes the deal's
    discount_pct.

    Args:
        alert_id (str): The alert's id (al-<20 hex digits>).
        body (DecisionRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ActionAccepted | ErrorBody
    """

    return (
        await asyncio_detailed(
            alert_id=alert_id,
            client=client,
            body=body,
        )
    ).parsed

from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.stream_token_answer import StreamTokenAnswer
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/alerts/stream-token",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | StreamTokenAnswer | None:
    if response.status_code == 201:
        response_201 = StreamTokenAnswer.from_dict(response.json())

        return response_201

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | StreamTokenAnswer]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | StreamTokenAnswer]:
    """A short-lived token that opens the live stream (keys never go in URLs)

     Trade the API key (sent in a header) for a short-lived token that opens the live stream:
    `GET /v1/alerts/stream?token=...` or `/v1/alerts/ws?token=...`. The token carries the key's name,
    role and teams,
    opens one stream, once, and expires after `PR_REVIEW_STREAM_TOKEN_TTL` seconds (at most 60). It
    opens nothing
    else. Any review instance sharing the Redis accepts it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StreamTokenAnswer]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | StreamTokenAnswer | None:
    """A short-lived token that opens the live stream (keys never go in URLs)

     Trade the API key (sent in a header) for a short-lived token that opens the live stream:
    `GET /v1/alerts/stream?token=...` or `/v1/alerts/ws?token=...`. The token carries the key's name,
    role and teams,
    opens one stream, once, and expires after `PR_REVIEW_STREAM_TOKEN_TTL` seconds (at most 60). It
    opens nothing
    else. Any review instance sharing the Redis accepts it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StreamTokenAnswer
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | StreamTokenAnswer]:
    """A short-lived token that opens the live stream (keys never go in URLs)

     Trade the API key (sent in a header) for a short-lived token that opens the live stream:
    `GET /v1/alerts/stream?token=...` or `/v1/alerts/ws?token=...`. The token carries the key's name,
    role and teams,
    opens one stream, once, and expires after `PR_REVIEW_STREAM_TOKEN_TTL` seconds (at most 60). It
    opens nothing
    else. Any review instance sharing the Redis accepts it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StreamTokenAnswer]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | StreamTokenAnswer | None:
    """A short-lived token that opens the live stream (keys never go in URLs)

     Trade the API key (sent in a header) for a short-lived token that opens the live stream:
    `GET /v1/alerts/stream?token=...` or `/v1/alerts/ws?token=...`. The token carries the key's name,
    role and teams,
    opens one stream, once, and expires after `PR_REVIEW_STREAM_TOKEN_TTL` seconds (at most 60). It
    opens nothing
    else. Any review instance sharing the Redis accepts it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StreamTokenAnswer
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed

"""Supervision for the official Anthropic clients, through the SDK's own `middleware=` hook.

The Anthropic SDK (2.x) runs client-level middleware around every HTTP attempt: a
`Middleware` gets the request (`APIRequest`, JSON body included) and `call_next`, and
returns the `APIResponse` the SDK then parses for the caller. So supervision here works
on the wire: the input stage rewrites the request body before `call_next` (or answers
without calling it), the output stage reads the whole body or the whole event stream and
returns a response carrying the released bytes. Everything the SDK offers on
`/v1/messages` (`messages.create`, `stream=True`, `messages.stream(...)`, `parse`,
`with_raw_response`, `beta.messages`) is supervised, and callers get the SDK's own
`Message`, `Stream` and `MessageStream` objects.

    client = anthropic.Anthropic(middleware=[AnthropicSupervisorMiddleware("healthcare")])

`supervised(anthropic.Anthropic(...))` is the same middleware on a copy of the client
(`client.with_options(middleware=[...])`), held by a thin wrapper.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx2
from anthropic import APIRequest, APIResponse, AsyncAPIResponse, Middleware
from anthropic._middleware import AsyncCallNext, CallNext
from anthropic._response import BaseAPIResponse

from supervisor.constitution import Constitution
from supervisor.middleware.exchange import Prepared, prepare, release_body, release_events
from supervisor.middleware.guard import Guard, OnBlock
from supervisor.pipeline import DecisionLog
from supervisor.providers import Provider
from supervisor.wire.messages import MESSAGES
from supervisor.wire.streams import parse_sse, to_sse

MESSAGES_PATH = "/v1/messages"
NOWHERE = "https://supervisor.invalid"  # reserved TLD: where withheld requests "went"
RETRIES_REMEMBERED = 256
R = TypeVar("R", bound=BaseAPIResponse[Any])


class AnthropicSupervisorMiddleware(Middleware):
    """Supervises `/v1/messages` for `anthropic.Anthropic` and `anthropic.AsyncAnthropic`.

    Takes the same arguments as `supervisor.supervised` (or a ready `guard`). A block,
    escalation or error raises `supervisor.OutputBlocked`, or with on_block="replace"
    answers with the constitution's refusal text.
    """

    def __init__(
        self,
        constitution: str | Path | Constitution | None = None,
        *,
        supervisor: str | Provider | None = None,
        context: dict[str, str] | None = None,
        on_block: OnBlock = "raise",
        ledger: DecisionLog | str | None = None,
        guard: Guard | None = None,
    ) -> None:
        if guard is None:
            if constitution is None:
                raise TypeError("give a constitution (id, path or Constitution) or a guard")
            guard = Guard(constitution, supervisor=supervisor, context=context,
                          on_block=on_block, ledger=ledger)
        self.guard = guard
        self._attempts: OrderedDict[str, Prepared] = OrderedDict()

    def handle(self, request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
        """Sync clients: screen, call, review, release."""
        guard = self.guard
        body = _messages_body(request)
        if body is None:
            return call_next(request)
        prepared = self._remembered(request)
        if prepared is None:
            prepared = guard.call(prepare(guard, MESSAGES, body, guard.context_now()))
        self._remember(request, prepared)
        if prepared.refusal is not None:
            return _withheld(request, prepared, APIResponse, _host(sync=True))
        response = call_next(request if prepared.request == body
                             else request.copy(body=prepared.request))
        if not response.http_response.is_success:
            return response
        if request.stream:
            data = response.http_response.read()
            events = guard.call(release_events(guard, MESSAGES, parse_sse(data), prepared))
            return _replaced(response, data if events is None else to_sse(events))
        released = guard.call(release_body(guard, MESSAGES, response.http_response.json(),
                                           prepared))
        return response if released is None else _replaced(response, _json(released))

    async def handle_async(self, request: APIRequest,
                           call_next: AsyncCallNext) -> AsyncAPIResponse[Any]:
        """Async clients: screen, call, review, release."""
        guard = self.guard
        body = _messages_body(request)
        if body is None:
            return await call_next(request)
        prepared = self._remembered(request)
        if prepared is None:
            prepared = await guard.acall(prepare(guard, MESSAGES, body,
                                                 guard.context_now()))
        self._remember(request, prepared)
        if prepared.refusal is not None:
            return _withheld(request, prepared, AsyncAPIResponse, _host(sync=False))
        response = await call_next(request if prepared.request == body
                                   else request.copy(body=prepared.request))
        if not response.http_response.is_success:
            return response
        if request.stream:
            data = await response.http_response.aread()
            events = await guard.acall(release_events(guard, MESSAGES, parse_sse(data),
                                                      prepared))
            return _replaced(response, data if events is None else to_sse(events))
        released = await guard.acall(release_body(guard, MESSAGES,
                                                  response.http_response.json(), prepared))
        return response if released is None else _replaced(response, _json(released))

    # The SDK calls middleware once per HTTP attempt; a retry of the same call (same
    # idempotency key) reuses the first attempt's input stage instead of recording it twice.

    def _remembered(self, request: APIRequest) -> Prepared | None:
        key = request.options.idempotency_key
        return self._attempts.get(key) if key and request.retries_taken else None

    def _remember(self, request: APIRequest, prepared: Prepared) -> None:
        key = request.options.idempotency_key
        if key:
            self._attempts[key] = prepared
            while len(self._attempts) > RETRIES_REMEMBERED:
                self._attempts.popitem(last=False)


class SupervisedAnthropic:
    """An `anthropic.Anthropic` or `AsyncAnthropic`, supervised by the middleware.

    Holds the client and a copy of it with the middleware appended; every attribute is
    the copy's, so every call the SDK makes to `/v1/messages` is supervised.
    """

    def __init__(self, client: anthropic.Anthropic | anthropic.AsyncAnthropic,
                 guard: Guard) -> None:
        self._held = client
        self._guard = guard
        self._supervised = client.with_options(
            middleware=[*client.middleware, AnthropicSupervisorMiddleware(guard=guard)])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._supervised, name)

    def __repr__(self) -> str:
        return f"<supervised {self._held!r} constitution={self._guard.constitution.id}>"

    def __enter__(self) -> SupervisedAnthropic:
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.close()

    async def __aenter__(self) -> SupervisedAnthropic:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._held.close()  # type: ignore[misc]  # an AsyncAnthropic here


def _messages_body(request: APIRequest) -> dict[str, Any] | None:
    """The JSON body of a `POST /v1/messages` (beta too); None for any other call."""
    body = request.json
    if (request.method.lower() != "post" or httpx2.URL(request.url).path != MESSAGES_PATH
            or not isinstance(body, dict) or "messages" not in body):
        return None
    return body


def _replaced(response: R, content: bytes) -> R:
    """The SDK's response wrapper around the released bytes.

    Built the way the SDK's own middleware (`anthropic.lib.middleware`) rebuilds one:
    the wrapper's parse settings are only reachable through its attributes.
    """
    original = response.http_response
    headers = original.headers.copy()
    for name in ("content-encoding", "content-length"):
        headers.pop(name, None)
    raw = httpx2.Response(original.status_code, headers=headers, content=content,
                          request=original.request)
    return type(response)(raw=raw, cast_to=response._cast_to, client=response._client,
                stream=response._is_sse_stream, stream_cls=response._stream_cls,
                options=response._options, retries_taken=response.retries_taken)


def _withheld(request: APIRequest, prepared: Prepared, kind: type[R], host: Any) -> R:
    """A response carrying the refusal for a request the input stage kept in."""
    text = prepared.refusal or ""
    if request.stream:
        content = to_sse(MESSAGES.reply_events(prepared.model, text))
        headers = {"content-type": "text/event-stream"}
    else:
        content, headers = _json(MESSAGES.reply(prepared.model, text)), {
            "content-type": "application/json"}
    raw = httpx2.Response(200, headers=headers, content=content,
                          request=httpx2.Request("POST", NOWHERE + MESSAGES_PATH))
    return kind(raw=raw, cast_to=request.cast_to, client=host, stream=request.stream,
                stream_cls=request.stream_cls, options=request.options, retries_taken=0)


_hosts: dict[bool, Any] = {}


def _host(*, sync: bool) -> Any:
    """A client that only parses (its transport refuses to send): the SDK needs one to
    turn a withheld request's refusal into its own types, and no request left."""
    if sync not in _hosts:
        def refuse(request: httpx2.Request) -> httpx2.Response:
            raise httpx2.ConnectError("the supervisor's parsing client never sends",
                                      request=request)

        transport = httpx2.MockTransport(refuse)
        _hosts[sync] = (
            anthropic.Anthropic(api_key="never-sent", base_url=NOWHERE,
                                http_client=httpx2.Client(transport=transport))
            if sync else
            anthropic.AsyncAnthropic(api_key="never-sent", base_url=NOWHERE,
                                     http_client=httpx2.AsyncClient(transport=transport)))
    return _hosts[sync]


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

"""Drop-in supervision for the official OpenAI clients, sync and async.

`supervised(openai.OpenAI(...))` holds the client and answers `chat.completions.create`
and `responses.create`, streaming or not, with the SDK's own types carrying the released
text; every other attribute is the client's own. The OpenAI SDK has no middleware
hook, so the wrapper sits in front of those two methods and never touches the SDK: it
asks for the raw HTTP response (`with_raw_response`), reviews the body or the whole held
stream, and lets the SDK parse what may be shown (`openai.Stream` over the released
bytes, or the model class over the released body).

Methods that would hand back a model's text unsupervised (`parse`, `stream`,
`retrieve`, the raw-response views) raise ConfigError instead of passing through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from supervisor.errors import ConfigError
from supervisor.middleware.exchange import Prepared, prepare, release_body, release_events
from supervisor.middleware.guard import Guard
from supervisor.wire import WireFormat
from supervisor.wire.chat import CHAT
from supervisor.wire.responses import RESPONSES
from supervisor.wire.streams import parse_sse, to_sse

RAW_VIEWS = frozenset({"with_raw_response", "with_streaming_response"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One supervised endpoint: its path, wire format and the SDK types it returns."""

    path: str
    wire: WireFormat
    body_type: type[Any]
    event_type: Any


CHAT_COMPLETIONS = Endpoint("chat/completions", CHAT, ChatCompletion, ChatCompletionChunk)
RESPONSES_API = Endpoint("responses", RESPONSES, Response, ResponseStreamEvent)


class _Held:
    """Holds an SDK object; attribute access falls through to it, except `refused` names."""

    refused: frozenset[str] = RAW_VIEWS

    def __init__(self, target: Any, guard: Guard, client: Any) -> None:
        self._target = target
        self._guard = guard
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name in self.refused:
            raise ConfigError(
                f"{name} is not supervised by supervisor.supervised(): it would return a "
                "model's text unchecked. Use create(...) (stream=True for streaming); if you "
                "really need it unsupervised, call it on the client you wrapped.")
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"<supervised {self._target!r} constitution={self._guard.constitution.id}>"


class _Create(_Held):
    """`create` for a sync client."""

    endpoint: Endpoint

    def create(self, **kwargs: Any) -> Any:
        """The SDK's `create`, supervised; returns its own result types."""
        guard, wire = self._guard, self.endpoint.wire
        prepared = guard.call(prepare(guard, wire, kwargs, guard.context_now()))
        if prepared.refusal is not None:
            return _reply(self._client, self.endpoint, prepared, openai.Stream)
        raw = self._target.with_raw_response.create(**prepared.request)
        http = raw.http_response
        if prepared.stream:
            data = http.read()
            events = guard.call(release_events(guard, wire, parse_sse(data), prepared))
            shown = data if events is None else to_sse(events)
            return openai.Stream(cast_to=self.endpoint.event_type,
                                 response=_replaced(http, shown), client=self._client)
        body = guard.call(release_body(guard, wire, http.json(), prepared))
        return raw.parse() if body is None else self.endpoint.body_type.construct(**body)


class _AsyncCreate(_Held):
    """`create` for an async client."""

    endpoint: Endpoint

    async def create(self, **kwargs: Any) -> Any:
        """The SDK's `create`, supervised; returns its own result types."""
        guard, wire = self._guard, self.endpoint.wire
        prepared = await guard.acall(prepare(guard, wire, kwargs, guard.context_now()))
        if prepared.refusal is not None:
            return _reply(self._client, self.endpoint, prepared, openai.AsyncStream)
        raw = await self._target.with_raw_response.create(**prepared.request)
        http = raw.http_response
        if prepared.stream:
            data = await http.aread()
            events = await guard.acall(release_events(guard, wire, parse_sse(data), prepared))
            shown = data if events is None else to_sse(events)
            return openai.AsyncStream(cast_to=self.endpoint.event_type,
                                      response=_replaced(http, shown), client=self._client)
        body = await guard.acall(release_body(guard, wire, http.json(), prepared))
        return raw.parse() if body is None else self.endpoint.body_type.construct(**body)


class _Completions(_Create):
    endpoint = CHAT_COMPLETIONS
    refused = RAW_VIEWS | {"parse", "stream", "retrieve", "list", "messages"}


class _AsyncCompletions(_AsyncCreate):
    endpoint = CHAT_COMPLETIONS
    refused = _Completions.refused


class _Responses(_Create):
    endpoint = RESPONSES_API
    refused = RAW_VIEWS | {"parse", "stream", "retrieve"}


class _AsyncResponses(_AsyncCreate):
    endpoint = RESPONSES_API
    refused = _Responses.refused


class _Chat(_Held):
    @property
    def completions(self) -> _Held:
        """`chat.completions`, supervised."""
        kind = _AsyncCompletions if self._guard_async else _Completions
        return kind(self._target.completions, self._guard, self._client)

    @property
    def _guard_async(self) -> bool:
        return isinstance(self._client, openai.AsyncOpenAI)


class SupervisedOpenAI(_Held):
    """An `openai.OpenAI` or `openai.AsyncOpenAI`, supervised; see the module docstring."""

    def __init__(self, client: openai.OpenAI | openai.AsyncOpenAI, guard: Guard) -> None:
        super().__init__(client, guard, client)

    @property
    def chat(self) -> _Held:
        """`chat`, whose `completions.create` is supervised."""
        return _Chat(self._client.chat, self._guard, self._client)

    @property
    def responses(self) -> _Held:
        """`responses`, whose `create` is supervised."""
        kind = _AsyncResponses if isinstance(self._client, openai.AsyncOpenAI) else _Responses
        return kind(self._client.responses, self._guard, self._client)

    def with_options(self, **options: Any) -> SupervisedOpenAI:
        """The client's `with_options`, still supervised by the same Guard."""
        return SupervisedOpenAI(self._client.with_options(**options), self._guard)

    copy = with_options

    def __enter__(self) -> SupervisedOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    async def __aenter__(self) -> SupervisedOpenAI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()


def _replaced(original: httpx2.Response, content: bytes) -> httpx2.Response:
    """A response like `original` whose body is `content` (already decoded)."""
    headers = original.headers.copy()
    for name in ("content-encoding", "content-length"):
        headers.pop(name, None)
    return httpx2.Response(original.status_code, headers=headers, content=content,
                           request=original.request)


def _reply(client: Any, endpoint: Endpoint, prepared: Prepared, stream_type: Any) -> Any:
    """The SDK type carrying the refusal, for a request the input stage withheld."""
    text, wire = prepared.refusal or "", endpoint.wire
    if not prepared.stream:
        return endpoint.body_type.construct(**wire.reply(prepared.model, text))
    request = httpx2.Request("POST", client.base_url.join(endpoint.path))
    response = httpx2.Response(200, headers={"content-type": "text/event-stream"},
                               content=to_sse(wire.reply_events(prepared.model, text)),
                               request=request)
    return stream_type(cast_to=endpoint.event_type, response=response, client=client)

"""Anthropic's models through the official `anthropic` SDK (Messages API).

A structured answer (a verdict) is asked for the strongest way the API offers: a single
tool whose `input_schema` is the schema, with `tool_choice` forcing the model to call
it, so the answer arrives as the tool call's parsed input and no prose is ever parsed.
The SDK's own retries are switched off (`max_retries=0`): retrying, backing off and
falling back are the resilience layer's job, which sees every attempt. The SDK reads
`ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` itself. `ChatRequest.temperature` is not
sent: the Messages API this SDK speaks no longer takes sampling parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from supervisor.errors import ConfigError, ProviderError, ProviderRejected, ProviderUnavailable
from supervisor.providers import ChatRequest, ChatResponse
from supervisor.providers.status import from_status

DEFAULT_TIMEOUT = 60.0
# the HTTP status each error type has outside a stream (Anthropic's errors reference)
IN_STREAM_STATUS = {"invalid_request_error": 400, "authentication_error": 401,
                    "permission_error": 403, "not_found_error": 404,
                    "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                    "overloaded_error": 529}


class AnthropicProvider:
    """A Provider backed by `AsyncAnthropic.messages.create`; `name` is `anthropic:MODEL`."""

    def __init__(self, model: str, *, client: anthropic.AsyncAnthropic | None = None,
                 timeout: float = DEFAULT_TIMEOUT, api_key: str | None = None,
                 base_url: str | None = None,
                 http_client: httpx2.AsyncClient | None = None) -> None:
        if not model:
            raise ConfigError("anthropic: needs a model name, e.g. anthropic:claude-haiku-4-5")
        self.model = model
        self.name = f"anthropic:{model}"
        self.timeout = timeout
        self.client = client or self._client(api_key, base_url, timeout, http_client)

    def _client(self, api_key: str | None, base_url: str | None, timeout: float,
                http_client: httpx2.AsyncClient | None) -> anthropic.AsyncAnthropic:
        advice = ("set ANTHROPIC_API_KEY (any value will do for a local server at "
                  "ANTHROPIC_BASE_URL)")
        try:
            client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url,
                                              timeout=timeout, max_retries=0,
                                              http_client=http_client)
        except anthropic.AnthropicError as exc:  # e.g. a credentials profile that is broken
            raise ConfigError(f"{self.name}: {exc}; {advice}") from None
        if client.api_key is None and client.auth_token is None and client.credentials is None:
            raise ConfigError(f"{self.name}: no Anthropic credentials; {advice}")
        return client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One Messages call; a schema request forces the single tool that carries the answer."""
        try:
            message = await self.client.messages.create(**self._params(request))
        except anthropic.AnthropicError as exc:
            raise self._failure(exc) from exc
        except ValueError as exc:  # a body that is not JSON
            raise self._unreadable(exc) from exc
        try:
            return self._read(message, request)
        except (TypeError, AttributeError, ValueError) as exc:  # JSON of the wrong shape
            raise self._unreadable(exc) from exc

    def _read(self, message: Message, request: ChatRequest) -> ChatResponse:
        if message.stop_reason == "refusal":
            raise ProviderRejected(f"{self.name} refused to answer", provider=self.name)
        text = "".join(block.text for block in message.content if block.type == "text")
        data: dict[str, Any] | None = None
        for block in message.content:
            if block.type == "tool_use" and block.name == request.schema_name:
                data = dict(block.input) if isinstance(block.input, dict) else None
        usage = message.usage
        return ChatResponse(
            text=text, model=message.model or self.model, provider="anthropic", data=data,
            input_tokens=usage.input_tokens + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0),
            output_tokens=usage.output_tokens, stop_reason=message.stop_reason or "",
            raw={"id": message.id},
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Yield text deltas as the server sends them (SSE), then the whole ChatResponse."""
        params = self._params(request)
        parts: list[str] = []
        input_tokens = output_tokens = 0
        stop_reason, model, message_id = "", self.model, ""
        try:
            events = await self.client.messages.create(**params, stream=True)
            async for event in events:
                if event.type == "message_start":
                    model, message_id = event.message.model or model, event.message.id
                    input_tokens = event.message.usage.input_tokens
                elif (event.type == "content_block_delta"
                      and event.delta.type == "text_delta"):
                    parts.append(event.delta.text)
                    yield event.delta.text
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = event.usage.output_tokens
        except anthropic.AnthropicError as exc:
            raise self._failure(exc) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._unreadable(exc) from exc
        if stop_reason == "refusal":
            raise ProviderRejected(f"{self.name} refused to answer", provider=self.name)
        yield ChatResponse(text="".join(parts), model=model, provider="anthropic",
                           input_tokens=input_tokens, output_tokens=output_tokens,
                           stop_reason=stop_reason, raw={"id": message_id})

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join([request.system] + [m.content for m in request.messages
                                                  if m.role == "system" and m.content])
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content}
                         for m in request.messages if m.role != "system"],
            "timeout": request.timeout or self.timeout,
        }
        if system.strip():
            params["system"] = system.strip()
        if request.schema is not None:
            params["tools"] = [{
                "name": request.schema_name,
                "description": "Record the answer. This tool is the only way to answer.",
                "input_schema": dict(request.schema),
            }]
            params["tool_choice"] = {"type": "tool", "name": request.schema_name}
        return params

    def _failure(self, exc: anthropic.AnthropicError) -> ProviderError:
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status < 400:  # an `error` event inside a 200 stream: its type says which
                status = IN_STREAM_STATUS.get(str(exc.type or ""), 500)
            return from_status(status, _message(exc), exc.response.headers,
                               provider=self.name)
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderUnavailable(f"{self.name} timed out", provider=self.name)
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderUnavailable(f"{self.name} connection failed: {exc}",
                                       provider=self.name)
        return self._unreadable(exc)

    def _unreadable(self, exc: Exception) -> ProviderError:
        # a body that is not the API's shape: a broken server or proxy, worth another try
        return ProviderUnavailable(f"{self.name} sent an unreadable response: {exc}",
                                   provider=self.name)


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
    return exc.message

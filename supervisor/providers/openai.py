"""OpenAI's models, and any OpenAI-compatible server, through the official `openai` SDK.

A structured answer is asked for with a strict JSON schema (`response_format`
`json_schema`, `strict: true`), so the server constrains decoding to the schema and the
answer is the message's JSON content. Strict mode accepts a subset of JSON Schema: every
object closed (`additionalProperties: false`) with every property required, and no
length or range keywords; `strict_schema` adapts a schema to it (the judge validates the
parsed answer anyway). A refusal (`message.refusal`) is a ProviderRejected.

The same adapter serves vLLM, Ollama, llama.cpp's server or an Azure-style gateway
through the SDK's base URL (`base_url=` or `OPENAI_BASE_URL`, read by the SDK). The
official endpoint gets `max_completion_tokens`; other servers get the older, more widely
understood `max_tokens`. The SDK's own retries are off: the resilience layer retries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from supervisor.errors import ConfigError, ProviderError, ProviderRejected, ProviderUnavailable
from supervisor.providers import ChatRequest, ChatResponse
from supervisor.providers.status import from_status

DEFAULT_TIMEOUT = 60.0
OFFICIAL_HOST = "api.openai.com"
# the keywords strict mode understands; anything else is dropped from the schema sent
STRICT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties",
                             "items", "enum", "const", "anyOf", "description", "title",
                             "$ref", "$defs", "definitions"})


class OpenAIProvider:
    """A Provider backed by `AsyncOpenAI.chat.completions.create`; `name` is `openai:MODEL`."""

    def __init__(self, model: str, *, client: openai.AsyncOpenAI | None = None,
                 base_url: str | None = None, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT,
                 http_client: httpx2.AsyncClient | None = None) -> None:
        if not model:
            raise ConfigError("openai: needs a model name, e.g. openai:gpt-4o-mini")
        self.model = model
        self.name = f"openai:{model}"
        self.timeout = timeout
        if client is None:
            try:
                client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url,
                                            timeout=timeout, max_retries=0,
                                            http_client=http_client)
            except openai.OpenAIError as exc:
                raise ConfigError(f"{self.name}: {exc} (any value will do for a local "
                                  "server at OPENAI_BASE_URL)") from None
        self.client = client
        self.official = client.base_url.host == OFFICIAL_HOST

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One chat completion; a schema request gets a strict JSON-schema answer."""
        try:
            completion = await self.client.chat.completions.create(**self._params(request))
        except openai.OpenAIError as exc:
            raise self._failure(exc) from exc
        except ValueError as exc:  # a body that is not JSON
            raise self._unreadable(exc) from exc
        try:
            return self._read(completion, request)
        except (TypeError, AttributeError, IndexError, ValueError) as exc:
            raise self._unreadable(exc) from exc

    def _read(self, completion: ChatCompletion, request: ChatRequest) -> ChatResponse:
        choice = completion.choices[0]
        message = choice.message
        if message.refusal:
            raise ProviderRejected(f"{self.name} refused: {message.refusal}", provider=self.name)
        text = message.content or ""
        data: Mapping[str, Any] | None = None
        if request.schema is not None:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None  # not JSON: no verdict; the judge retries, then errs
            data = parsed if isinstance(parsed, dict) else None
        usage = completion.usage
        return ChatResponse(
            text=text, model=completion.model or self.model, provider="openai", data=data,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            stop_reason=choice.finish_reason or "", raw={"id": completion.id},
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Yield text deltas as the server sends them (SSE), then the whole ChatResponse."""
        parts: list[str] = []
        input_tokens = output_tokens = 0
        finish, model, completion_id, refusal = "", self.model, "", ""
        try:
            chunks = await self.client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True})
            async for chunk in chunks:
                model, completion_id = chunk.model or model, chunk.id or completion_id
                if chunk.usage is not None:
                    input_tokens = chunk.usage.prompt_tokens
                    output_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    refusal += choice.delta.refusal or ""
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise self._failure(exc) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._unreadable(exc) from exc
        if refusal:
            raise ProviderRejected(f"{self.name} refused: {refusal}", provider=self.name)
        yield ChatResponse(text="".join(parts), model=model, provider="openai",
                           input_tokens=input_tokens, output_tokens=output_tokens,
                           stop_reason=finish, raw={"id": completion_id})

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        messages = ([{"role": "system", "content": request.system}] if request.system else [])
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": request.temperature,
            "max_completion_tokens" if self.official else "max_tokens": request.max_tokens,
            "timeout": request.timeout or self.timeout,
        }
        if request.schema is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.schema_name, "strict": True,
                "schema": strict_schema(request.schema)}}
        return params

    def _failure(self, exc: openai.OpenAIError) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            return from_status(exc.status_code, _message(exc), exc.response.headers,
                               provider=self.name)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderUnavailable(f"{self.name} timed out", provider=self.name)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable(f"{self.name} connection failed: {exc}",
                                       provider=self.name)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return ProviderRejected(f"{self.name}: {exc}", provider=self.name)
        return self._unreadable(exc)

    def _unreadable(self, exc: Exception) -> ProviderError:
        # a body that is not the API's shape: a broken server or proxy, worth another try
        return ProviderUnavailable(f"{self.name} sent an unreadable response: {exc}",
                                   provider=self.name)


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` as strict mode accepts it: closed objects, all properties required.

    A property that was optional becomes nullable (strict mode's way to say "may be
    absent"); keywords strict mode rejects (minItems, maxLength, minimum, ...) are dropped.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in STRICT_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, Mapping):
            required = set(schema.get("required", ()))
            out[key] = {name: strict_schema(sub) if name in required else _nullable(sub)
                        for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = strict_schema(value)
        elif key in {"anyOf"} and isinstance(value, list):
            out[key] = [strict_schema(v) for v in value]
        elif key in {"$defs", "definitions"} and isinstance(value, Mapping):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def _nullable(sub: Mapping[str, Any]) -> dict[str, Any]:
    strict = strict_schema(sub)
    kind = strict.get("type")
    if isinstance(kind, str):
        strict["type"] = [kind, "null"]
        return strict
    return {"anyOf": [strict, {"type": "null"}]}


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return exc.message

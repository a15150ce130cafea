"""What a serving process imports: Presidio without `transformers`, the encoder from its
cached graph without `transformers` either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor.detectors.presidio_import import WithoutTransformers

ASK = "from supervisor.detectors.presidio_import import WithoutTransformers\n" \
      "WithoutTransformers().find_spec('transformers')\n"


def test_transformers_is_missing_only_for_presidios_module_level_imports() -> None:
    """Presidio's modules import `transformers` at their top level in a `try`: there it is
    missing. Asked from any other module, or from a function (Presidio's own, later),
    the finder leaves it to the others."""
    code = compile(ASK, "<module>", "exec")
    with pytest.raises(ModuleNotFoundError, match="spaCy engine"):
        exec(code, {"__name__": "presidio_analyzer.nlp_engine.huggingface_token_pipe"})
    with pytest.raises(ModuleNotFoundError):
        exec(code, {"__name__": "presidio_analyzer"})
    exec(code, {"__name__": "sentence_transformers"})  # another library: not blocked
    exec(code, {"__name__": "presidio_analyzer_extra"})  # only Presidio's own modules

    presidio: dict[str, object] = {"__name__": "presidio_analyzer.chunkers",
                                   "WithoutTransformers": WithoutTransformers}
    exec("def later():\n    return WithoutTransformers().find_spec('transformers')\n", presidio)
    assert presidio["later"]() is None  # type: ignore[operator]  # Presidio's, called later
    assert WithoutTransformers().find_spec("transformers.pipelines") is None


SERVING = """
import asyncio, json, sys
from supervisor.constitution import load_constitution
from supervisor.detectors import preload
from supervisor.detectors.embedding import shared_encoder
from supervisor.detectors.pii import redact_all
from supervisor.pipeline import Supervisor

constitution = load_constitution("base")
preload(constitution)

async def serve():
    await Supervisor(constitution).load()
    return await Supervisor(constitution, deadline_s=600).assess(
        "Take the tablets with food. Patient Maria Lopez, SSN 536-22-8193.")

asyncio.run(serve())
print(json.dumps({"modules": sorted(sys.modules),
                  "source": shared_encoder().backend.source,
                  "redacted": redact_all("Call Maria Lopez on 212-555-0134 today.")}))
"""


def _serve_once(cache: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SERVING], capture_output=True, text=True,
                          check=True, timeout=900, cwd=Path(__file__).parents[2],
                          env={**os.environ, "SUPERVISOR_CACHE_DIR": str(cache)})
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_a_serving_process_with_the_graph_cached_never_imports_transformers(
        vector_cache_dir: Path) -> None:
    """The first process traces the encoder (it needs `transformers` for that) and saves
    the graph; the next one, as a server warms up and answers (preload, load, a
    supervision with PII and semantic checks, a record's redaction), loads the graph and
    imports neither `transformers` nor sentence-transformers: a third of its memory."""
    first = _serve_once(vector_cache_dir)
    assert first["source"] == "traced" and "transformers" in first["modules"]  # type: ignore[operator]
    second = _serve_once(vector_cache_dir)
    modules = set(second["modules"])  # type: ignore[call-overload]
    assert second["source"] == "cache"
    assert not {m.split(".")[0] for m in modules} & {"transformers", "sentence_transformers"}
    assert {"presidio_analyzer", "spacy", "torch", "tokenizers"} <= modules  # it did run
    # the process that traced and the one that did not redact alike
    assert second["redacted"] == first["redacted"]
    assert "<PHONE_NUMBER>" in str(second["redacted"]) and "0134" not in str(second["redacted"])

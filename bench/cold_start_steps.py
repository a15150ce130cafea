"""Cold start, step by step: CPU and wall time of each thing a healthcare check loads.

One fresh process does, in order, what `supervisor check -c healthcare` does before its
first check, and prints each step's time: the Presidio import (spaCy, transformers,
torch), the constitution and its detectors, PII's warm-up, the encoder's load, the
semantic principles' exemplar matrices, the exchange model, one scan. Run it twice to
see a filled cache folder (`SUPERVISOR_CACHE_DIR`) at work.

    .venv/bin/python bench/cold_start_steps.py
    PYTHONPATH=/tmp/other-tree .venv/bin/python bench/cold_start_steps.py  # another commit
"""

from __future__ import annotations

import resource
import time

marks: list[tuple[str, float, float]] = []


def mark(name: str) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    marks.append((name, time.perf_counter(), usage.ru_utime + usage.ru_stime))


def main() -> None:
    mark("start")
    import presidio_analyzer  # noqa: F401

    mark("import presidio_analyzer")
    from supervisor.constitution import load_constitution
    from supervisor.detectors import detectors_for

    constitution = load_constitution("healthcare")
    detectors = detectors_for(constitution)
    mark("constitution and detectors")
    detectors["pii"].warm()  # type: ignore[attr-defined]  # PiiDetector's own method
    mark("pii warm")
    semantic = detectors["semantic"]
    encoder = semantic.encoder  # type: ignore[attr-defined]  # SemanticDetector's
    backend = getattr(encoder, "backend", None)
    backend.load() if backend is not None else encoder._load()  # older trees: no backend
    mark("encoder load")
    # the detector is typed as the protocol; this one is semantic
    semantic.warm(constitution.principles)  # type: ignore[attr-defined]
    mark("exemplar matrices")
    if "exchange" in detectors:
        # the detector is typed as the protocol; this one is exchange
        detectors["exchange"].warm()  # type: ignore[attr-defined]
    mark("exchange model")
    for detector in detectors.values():
        detector.scan(constitution.stage("output"), prompt="", text="Hello there")
    mark("one scan, every detector")
    previous = marks[0]
    for name, wall, cpu in marks[1:]:
        print(f"{name:32} wall {wall - previous[1]:6.2f} s   cpu {cpu - previous[2]:6.2f} s")
        previous = (name, wall, cpu)
    print(f"{'total':32} wall {marks[-1][1] - marks[0][1]:6.2f} s   "
          f"cpu {marks[-1][2] - marks[0][2]:6.2f} s")


if __name__ == "__main__":
    main()
